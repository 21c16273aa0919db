//! `bao plugins:list` and `bao plugins:audit`: what each plugin declared,
//! and what it used and was refused; and `bao admin:link`, the console's
//! one-time sign-in link.

use super::{fail, JsonArgs};
use crate::plugin::UsageRow;
use crate::App;
use serde_json::json;
use std::process::ExitCode;

pub(super) fn list(app: &App, args: &JsonArgs) -> ExitCode {
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(app.plugins()).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    if app.plugins().is_empty() {
        println!("no plugins: add `plugins: [MyPlugin]` to bao::app!");
        return ExitCode::SUCCESS;
    }
    for p in app.plugins() {
        let c = &p.capabilities;
        println!("{}", p.name);
        println!("  hosts:    {}", list_or_none(c.hosts));
        println!("  secrets:  {}", list_or_none(c.secrets));
        println!("  database: {}", if c.db { "yes" } else { "no" });
        println!(
            "  routes:   {}",
            if p.routes.is_empty() {
                "none".to_string()
            } else {
                p.routes
                    .iter()
                    .map(|r| format!("{} {}", r.method, r.path))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
    }
    ExitCode::SUCCESS
}

fn list_or_none(values: &[&str]) -> String {
    if values.is_empty() {
        "none".into()
    } else {
        values.join(", ")
    }
}

pub(super) fn audit(app: &App, args: &JsonArgs) -> ExitCode {
    let ready = match super::app_runtime(app) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let pool = ready.pool.clone();
    let rows = match ready.runtime.block_on(pool.run(crate::plugin::recorded)) {
        Ok(rows) => rows,
        Err(e) => return fail(e),
    };
    let report: Vec<serde_json::Value> = app
        .plugins()
        .iter()
        .map(|p| {
            let mine: Vec<&UsageRow> = rows.iter().filter(|r| r.plugin == p.name).collect();
            let values = |kind: &str| -> Vec<&str> {
                mine.iter()
                    .filter(|r| r.kind == kind)
                    .map(|r| r.value.as_str())
                    .collect()
            };
            let used_hosts = values("host");
            let used_secrets = values("secret");
            let unused_hosts: Vec<&str> = p
                .capabilities
                .hosts
                .iter()
                .copied()
                .filter(|h| !used_hosts.iter().any(|u| crate::plugin::covers(h, u)))
                .collect();
            let unused_secrets: Vec<&str> = p
                .capabilities
                .secrets
                .iter()
                .copied()
                .filter(|s| !used_secrets.contains(s))
                .collect();
            json!({
                "name": p.name,
                "declared": p.capabilities,
                "used": {
                    "hosts": used_hosts,
                    "secrets": used_secrets,
                    "db": !values("db").is_empty(),
                },
                "refused": {
                    "hosts": values("host_refused"),
                    "secrets": values("secret_refused"),
                },
                "declared_but_unused": {
                    "hosts": unused_hosts,
                    "secrets": unused_secrets,
                    "db": p.capabilities.db && values("db").is_empty(),
                },
            })
        })
        .collect();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    if report.is_empty() {
        println!("no plugins: add `plugins: [MyPlugin]` to bao::app!");
        return ExitCode::SUCCESS;
    }
    let show = |v: &serde_json::Value| -> String {
        let items: Vec<String> = v
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        if items.is_empty() {
            "none".into()
        } else {
            items.join(", ")
        }
    };
    for r in &report {
        println!("{}", r["name"].as_str().unwrap_or_default());
        println!("  used hosts:      {}", show(&r["used"]["hosts"]));
        println!("  used secrets:    {}", show(&r["used"]["secrets"]));
        println!(
            "  used database:   {}",
            if r["used"]["db"] == true { "yes" } else { "no" }
        );
        println!("  REFUSED hosts:   {}", show(&r["refused"]["hosts"]));
        println!("  REFUSED secrets: {}", show(&r["refused"]["secrets"]));
        println!(
            "  declared, unused: hosts {}; secrets {}{}",
            show(&r["declared_but_unused"]["hosts"]),
            show(&r["declared_but_unused"]["secrets"]),
            if r["declared_but_unused"]["db"] == true {
                "; database"
            } else {
                ""
            }
        );
    }
    ExitCode::SUCCESS
}

/// How long an admin link may wait to be opened.
const LINK_TTL_MS: i64 = 15 * 60 * 1000;

pub(super) fn admin_link(app: &App, args: &super::AdminLinkArgs) -> ExitCode {
    let ready = match super::app_runtime(app) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if ready.config.admin_token.is_none() {
        return fail(
            "the admin console signs in with links only when BAO_ADMIN_TOKEN is set \
             (at least 32 characters; `openssl rand -hex 32` makes one); \
             in an app with users, admins sign in with their accounts",
        );
    }
    if !ready.config.admin_enabled {
        return fail("the admin console is off (BAO_ADMIN_ENABLED=false)");
    }
    let token = crate::support::crypto::random_hex(32);
    let hash = crate::support::crypto::sha256_hex(&token);
    let pool = ready.pool.clone();
    if let Err(e) = ready
        .runtime
        .block_on(pool.run(move |c| crate::admin::store::create_link(c, &hash, LINK_TTL_MS)))
    {
        return fail(e);
    }
    let base = args.base_url.clone().unwrap_or_else(|| {
        let host = match ready.config.host.as_str() {
            "0.0.0.0" | "::" => "127.0.0.1",
            other => other,
        };
        format!("http://{host}:{}", ready.config.port)
    });
    let url = format!(
        "{}/_bao/admin/login?token={token}",
        base.trim_end_matches('/')
    );
    let expires_at = crate::support::clock::now_ms() + LINK_TTL_MS;
    if args.json {
        println!("{}", json!({"url": url, "expires_at": expires_at}));
    } else {
        println!("{url}");
        eprintln!("Opens the admin console once, within 15 minutes.");
    }
    ExitCode::SUCCESS
}
