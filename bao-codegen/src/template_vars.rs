//! The variables a template reads, found by askama's own parser, so that
//! `#[bao::view]` can say "`views/home.html` line 3: `titel` is not a field
//! of `Home`" at the user's struct instead of rustc's error about a
//! generated wrapper.
//!
//! The check is conservative: a name bound anywhere in the template or in
//! the templates it extends, includes or imports (loop variables, `let`,
//! macro arguments, match and `if let` patterns) counts as known, and a
//! construct this walk does not follow makes it give up, leaving the
//! template to askama's own errors.

use askama_parser::{Ast, Expr, LetValueOrBlock, Node, Syntax, Target, WithSpan};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A variable read at the root of an expression (`post` of `post.title`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    /// Its name.
    pub name: String,
    /// Its line in the template, from 1.
    pub line: usize,
}

/// What a template reads and binds.
#[derive(Debug, Default)]
struct Walk {
    reads: Vec<(String, usize)>,
    bound: BTreeSet<String>,
    /// Other templates it extends, includes or imports.
    others: Vec<String>,
}

/// The variables `file` reads that are neither bound in it (or in the
/// templates it uses) nor in `known`, in order; `None` when the template or
/// one it uses cannot be read or parsed, or uses a construct not followed
/// here (askama then reports what is wrong).
pub fn unknown_reads(file: &Path, dirs: &[PathBuf], known: &[String]) -> Option<Vec<Read>> {
    let source = std::fs::read_to_string(file).ok()?;
    let main = walk_source(&source)?;
    let mut bound = main.bound.clone();
    // Names bound in the templates it uses, up to a few levels.
    let mut queue: Vec<(String, usize)> = main.others.iter().map(|o| (o.clone(), 0)).collect();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    while let Some((other, depth)) = queue.pop() {
        if depth > 8 || !seen.insert(other.clone()) {
            continue;
        }
        let path = dirs.iter().map(|d| d.join(&other)).find(|p| p.is_file())?;
        let text = std::fs::read_to_string(path).ok()?;
        let walked = walk_source(&text)?;
        bound.extend(walked.bound);
        queue.extend(walked.others.into_iter().map(|o| (o, depth + 1)));
    }
    let mut reported: BTreeSet<String> = BTreeSet::new();
    Some(
        main.reads
            .into_iter()
            .filter(|(name, _)| {
                !bound.contains(name)
                    && !known.iter().any(|k| k == name)
                    && !is_builtin(name)
                    && reported.insert(name.clone())
            })
            .map(|(name, offset)| Read {
                line: line_of(&source, offset),
                name,
            })
            .collect(),
    )
}

/// Names askama or Rust provide: `self`, `loop`, paths and constants.
fn is_builtin(name: &str) -> bool {
    matches!(name, "self" | "loop" | "super" | "crate" | "caller" | "_")
        || name.starts_with(|c: char| c.is_ascii_uppercase())
}

fn line_of(source: &str, offset: usize) -> usize {
    source[..offset.min(source.len())].matches('\n').count() + 1
}

fn walk_source(source: &str) -> Option<Walk> {
    let ast = Ast::from_str(source, None, &Syntax::default()).ok()?;
    let mut walk = Walk::default();
    walk.nodes(ast.nodes())?;
    Some(walk)
}

fn offset<T>(spanned: &WithSpan<T>) -> usize {
    spanned.span().byte_range().map_or(0, |r| r.start)
}

impl Walk {
    fn nodes(&mut self, nodes: &[Box<Node<'_>>]) -> Option<()> {
        nodes.iter().try_for_each(|node| self.node(node))
    }

    fn node(&mut self, node: &Node<'_>) -> Option<()> {
        match node {
            Node::Lit(_) | Node::Comment(_) | Node::Raw(_) | Node::Break(_) | Node::Continue(_) => {
                Some(())
            }
            Node::Expr(_, expr) => self.expr(expr),
            Node::If(branches) => {
                for branch in &branches.branches {
                    if let Some(test) = &branch.cond {
                        if let Some(target) = &test.target {
                            self.target(target)?;
                        }
                        self.expr(&test.expr)?;
                    }
                    self.nodes(&branch.nodes)?;
                }
                Some(())
            }
            Node::Loop(l) => {
                self.target(&l.var)?;
                self.expr(&l.iter)?;
                if let Some(cond) = &l.cond {
                    self.expr(cond)?;
                }
                self.nodes(&l.body)?;
                self.nodes(&l.else_nodes)
            }
            Node::Match(m) => {
                self.expr(&m.expr)?;
                for arm in &m.arms {
                    for target in &arm.target {
                        self.target(target)?;
                    }
                    self.nodes(&arm.nodes)?;
                }
                Some(())
            }
            Node::Let(l) => {
                self.target(&l.var)?;
                match &l.val {
                    LetValueOrBlock::Value(value) => self.expr(value),
                    LetValueOrBlock::Block { nodes, .. } => self.nodes(nodes),
                }
            }
            Node::Declare(d) => {
                self.bound.insert((*d.var_name).to_string());
                Some(())
            }
            Node::BlockDef(b) => self.nodes(&b.nodes),
            Node::Macro(m) => {
                for arg in &m.args {
                    self.bound.insert((*arg.name).to_string());
                    if let Some(default) = &arg.default {
                        self.expr(default)?;
                    }
                }
                self.nodes(&m.nodes)
            }
            Node::Call(c) => {
                for arg in &c.caller_args {
                    self.bound.insert((*arg).to_string());
                }
                for arg in c.args.iter().flatten() {
                    self.expr(arg)?;
                }
                self.nodes(&c.nodes)
            }
            Node::FilterBlock(f) => {
                for arg in &f.filters.arguments {
                    self.expr(arg)?;
                }
                self.nodes(&f.nodes)
            }
            Node::Extends(e) => {
                self.others.push(e.path.to_string());
                Some(())
            }
            Node::Include(i) => {
                self.others.push(i.path.to_string());
                Some(())
            }
            Node::Import(i) => {
                self.others.push(i.path.to_string());
                self.bound.insert(i.scope.to_string());
                Some(())
            }
            // Mutations of variables bound elsewhere: not followed.
            Node::Compound(_) => None,
        }
    }

    fn target(&mut self, target: &Target<'_>) -> Option<()> {
        match target {
            Target::Name(name) => {
                self.bound.insert((**name).to_string());
            }
            Target::Tuple(t) => t.1.iter().try_for_each(|t| self.target(t))?,
            Target::Array(a) => a.iter().try_for_each(|t| self.target(t))?,
            Target::Struct(s) => s.1.iter().try_for_each(|t| self.target(&t.dest))?,
            Target::OrChain(o) => o.iter().try_for_each(|t| self.target(t))?,
            Target::Rest(rest) => {
                if let Some(name) = &**rest {
                    self.bound.insert((**name).to_string());
                }
            }
            Target::NumLit(..)
            | Target::StrLit(_)
            | Target::CharLit(_)
            | Target::BoolLit(_)
            | Target::Path(_)
            | Target::Placeholder(_) => {}
        }
        Some(())
    }

    fn expr(&mut self, expr: &WithSpan<Box<Expr<'_>>>) -> Option<()> {
        match &***expr {
            Expr::Var(name) => {
                self.reads.push(((*name).to_string(), offset(expr)));
                Some(())
            }
            Expr::BoolLit(_)
            | Expr::NumLit(..)
            | Expr::StrLit(_)
            | Expr::CharLit(_)
            | Expr::Path(_)
            | Expr::IsDefined(_)
            | Expr::IsNotDefined(_)
            | Expr::RustMacro(..) => Some(()),
            Expr::AssociatedItem(inner, _)
            | Expr::Group(inner)
            | Expr::Unary(_, inner)
            | Expr::Try(inner)
            | Expr::As(inner, _)
            | Expr::NamedArgument(_, inner) => self.expr(inner),
            Expr::Index(a, b) | Expr::ArrayRepeat(a, b) => {
                self.expr(a)?;
                self.expr(b)
            }
            Expr::BinOp(op) => {
                self.expr(&op.lhs)?;
                self.expr(&op.rhs)
            }
            Expr::Range(range) => {
                if let Some(lhs) = &range.lhs {
                    self.expr(lhs)?;
                }
                if let Some(rhs) = &range.rhs {
                    self.expr(rhs)?;
                }
                Some(())
            }
            Expr::Array(items) | Expr::Tuple(items) | Expr::Concat(items) => {
                items.iter().try_for_each(|item| self.expr(item))
            }
            Expr::Filter(filter) => filter.arguments.iter().try_for_each(|arg| self.expr(arg)),
            Expr::Call(call) => {
                // `name(..)` calls a method of the page or a function: not
                // a variable. `post.title.len()` reads `post`.
                if !matches!(&**call.path, Expr::Var(_) | Expr::Path(_)) {
                    self.expr(&call.path)?;
                }
                call.args.iter().try_for_each(|arg| self.expr(arg))
            }
            Expr::LetCond(cond) => {
                if let Some(target) = &cond.target {
                    self.target(target)?;
                }
                self.expr(&cond.expr)
            }
            Expr::Struct(_) | Expr::FilterSource | Expr::ArgumentPlaceholder => None,
        }
    }
}
