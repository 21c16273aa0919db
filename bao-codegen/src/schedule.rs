//! `#[every("30s")]`, `#[every("monday at 9am")]`,
//! `#[every(cron = "0 */5 * * * *", tz = "Europe/Paris")]` on
//! `async fn name(ctx: TaskCtx)`: the schedule is parsed here, at compile
//! time, and the function gets a module with its definition.

use crate::diag::{closest, literal_options, Diagnostics};
use proc_macro2::{Span, TokenStream};
use quote::quote;
use std::str::FromStr;
use syn::{FnArg, Lit, ReturnType, Type};

const OPTIONS: &[&str] = &["cron", "tz", "missed", "retries"];

/// The accepted forms, shown with every schedule error.
pub const FORMS: &str = "accepted forms: an interval (\"30s\", \"5m\", \"1h\", \"1d\", \"every 10 minutes\"), \
a daily or weekly time (\"every day at 06:30\", \"monday at 9am\", \"weekdays at 17:45\"), \
or `cron = \"0 */5 * * * *\"` (seconds first; 5-field crontab lines are accepted too) with an optional `tz = \"Europe/Paris\"`";

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    /// Every so many milliseconds, aligned on the Unix epoch.
    Every(u64),
    /// A cron expression with seconds (6 or 7 fields).
    Cron(String),
}

/// Parses `500ms`, `30s`, `5 m`, `1h`, `2 days`, `10 minutes` into
/// milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let text = text.trim().to_ascii_lowercase();
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    let unit = text[digits.len()..].trim();
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` does not start with a number"))?;
    let scale = match unit {
        "ms" | "millis" | "millisecond" | "milliseconds" => 1,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        "" => {
            return Err(format!(
                "`{text}` has no unit: write `{n}s`, `{n}m` or `{n}h`"
            ))
        }
        other => return Err(format!("`{other}` is not a unit: use ms, s, m, h or d")),
    };
    n.checked_mul(scale)
        .filter(|ms| *ms > 0)
        .ok_or_else(|| format!("`{text}` must be more than zero and less than centuries"))
}

/// `9am`, `9:15pm`, `06:30`, `17:45`, `noon`, `midnight` into (hour, minute).
fn parse_time(text: &str) -> Result<(u32, u32), String> {
    let text = text.trim();
    match text {
        "noon" => return Ok((12, 0)),
        "midnight" => return Ok((0, 0)),
        _ => {}
    }
    let (clock, meridiem) = if let Some(t) = text.strip_suffix("am") {
        (t.trim(), Some(false))
    } else if let Some(t) = text.strip_suffix("pm") {
        (t.trim(), Some(true))
    } else {
        (text, None)
    };
    let (h, m) = match clock.split_once(':') {
        Some((h, m)) => (h, m),
        None => (clock, "0"),
    };
    let bad = || format!("`{text}` is not a time of day: write `06:30`, `9am` or `9:15pm`");
    let mut hour: u32 = h.parse().map_err(|_| bad())?;
    let minute: u32 = m.parse().map_err(|_| bad())?;
    if minute > 59 {
        return Err(bad());
    }
    match meridiem {
        Some(pm) => {
            if !(1..=12).contains(&hour) {
                return Err(bad());
            }
            hour = match (hour, pm) {
                (12, false) => 0,
                (12, true) => 12,
                (h, true) => h + 12,
                (h, false) => h,
            };
        }
        None if hour > 23 => return Err(bad()),
        None => {}
    }
    Ok((hour, minute))
}

/// A day word to the cron day-of-week field.
fn parse_days(text: &str) -> Option<&'static str> {
    Some(match text.trim().trim_end_matches('s') {
        "day" | "everyday" => "*",
        "weekday" => "Mon-Fri",
        "weekend" => "Sat,Sun",
        "monday" | "mon" => "Mon",
        "tuesday" | "tue" => "Tue",
        "wednesday" | "wed" => "Wed",
        "thursday" | "thu" => "Thu",
        "friday" | "fri" => "Fri",
        "saturday" | "sat" => "Sat",
        "sunday" | "sun" => "Sun",
        _ => return None,
    })
}

/// Parses the schedule forms of [`FORMS`] (not `cron =`).
pub fn parse_schedule(text: &str) -> Result<Spec, String> {
    let lower = text.trim().to_ascii_lowercase();
    let rest = lower.strip_prefix("every ").unwrap_or(&lower).trim();
    if let Some((days, time)) = rest.split_once(" at ") {
        let dow = parse_days(days).ok_or_else(|| {
            format!(
                "`{days}` is not a day: use day, weekday, weekend or a weekday name like monday"
            )
        })?;
        let (hour, minute) = parse_time(time)?;
        return Ok(Spec::Cron(format!("0 {minute} {hour} * * {dow}")));
    }
    match rest {
        "second" => return Ok(Spec::Every(1_000)),
        "minute" => return Ok(Spec::Every(60_000)),
        "hour" => return Ok(Spec::Every(3_600_000)),
        "day" => return Ok(Spec::Every(86_400_000)),
        _ => {}
    }
    if rest.starts_with(|c: char| c.is_ascii_digit()) {
        let ms = parse_duration_ms(rest)?;
        if ms < 1_000 || ms % 1_000 != 0 {
            return Err(format!(
                "`{text}`: a schedule fires on whole seconds, at least every second"
            ));
        }
        return Ok(Spec::Every(ms));
    }
    Err(format!("`{text}` is not a schedule"))
}

/// Checks a cron expression, adding the seconds field to a 5-field one.
pub fn parse_cron(text: &str) -> Result<String, String> {
    let fields = text.split_whitespace().count();
    let expr = match fields {
        5 => format!("0 {}", text.trim()),
        6 | 7 => text.split_whitespace().collect::<Vec<_>>().join(" "),
        n => {
            return Err(format!(
                "`{text}` has {n} fields: a cron expression has 6 (sec min hour day month weekday) or 7 (and year); a 5-field crontab line is accepted too"
            ))
        }
    };
    check_cron_ranges(text, &expr)?;
    cron::Schedule::from_str(&expr)
        .map_err(|e| format!("`{text}` is not a valid cron expression: {e}"))?;
    Ok(expr)
}

/// The numbers of the second, minute, hour, day and month fields within
/// their ranges, said in the field's own words (the cron crate's messages
/// give an exclusive bound as if it were inclusive).
fn check_cron_ranges(text: &str, expr: &str) -> Result<(), String> {
    const FIELDS: [(&str, u32, u32); 5] = [
        ("second", 0, 59),
        ("minute", 0, 59),
        ("hour", 0, 23),
        ("day of the month", 1, 31),
        ("month", 1, 12),
    ];
    for (field, (what, low, high)) in expr.split_whitespace().zip(FIELDS) {
        // `1-5,10/2` → the numbers 1, 5 and 10; a step is not a value.
        for part in field.split(',') {
            let values = part.split('/').next().unwrap_or_default();
            for number in values.split('-') {
                if let Ok(n) = number.parse::<u32>() {
                    if n < low || n > high {
                        return Err(format!(
                            "`{text}`: {what} {n} is out of range, a {what} is {low} to {high}"
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Expands `#[every(args)] item`.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let func = match crate::diag::parse_fn_item(
        item,
        "#[bao::every] goes on an `async fn name(ctx: TaskCtx)`",
    ) {
        Ok(f) => f,
        Err(errors) => return errors,
    };
    let mut diag = Diagnostics::new();
    let ident = &func.sig.ident;
    let name = ident.to_string();
    let mut text: Option<String> = None;
    let mut spec: Option<Spec> = None;
    let mut tz = "UTC".to_string();
    let mut tz_span = Span::call_site();
    let mut catch_up = false;
    let mut retries: u32 = 0;
    let options = literal_options(args, &mut diag);
    if options.is_empty() && !diag.has_errors() {
        diag.error_span(
            Span::call_site(),
            format!("#[bao::every] needs a schedule, e.g. #[bao::every(\"30s\")]; {FORMS}"),
        );
    }
    for option in options {
        match (option.key.as_deref(), &option.value) {
            (None, Some(Lit::Str(s))) => match parse_schedule(&s.value()) {
                Ok(parsed) => {
                    text = Some(s.value());
                    spec = Some(parsed);
                }
                Err(why) => diag.error_at(s, format!("{why}; {FORMS}")),
            },
            (Some("cron"), Some(Lit::Str(s))) => match parse_cron(&s.value()) {
                Ok(expr) => {
                    text = Some(format!("cron {}", s.value()));
                    spec = Some(Spec::Cron(expr));
                }
                Err(why) => diag.error_at(s, why),
            },
            (Some("tz"), Some(Lit::Str(s))) => match chrono_tz::Tz::from_str(&s.value()) {
                Ok(_) => {
                    tz = s.value();
                    tz_span = s.span();
                }
                Err(_) => diag.error_at(
                    s,
                    crate::diag::wrong_value(
                        &option.tokens,
                        "it is not an IANA time zone name (\"UTC\", \"Europe/Paris\", \"America/New_York\")",
                        "tz = \"UTC\"",
                    ),
                ),
            },
            (Some("missed"), Some(Lit::Str(s))) => match s.value().as_str() {
                "skip" => catch_up = false,
                "catch_up" => catch_up = true,
                _ => diag.error_at(
                    s,
                    crate::diag::wrong_value(
                        &option.tokens,
                        "after downtime a schedule either \"skip\"s the slots it missed (the default) or runs once to \"catch_up\"",
                        "missed = \"catch_up\"",
                    ),
                ),
            },
            (Some("retries"), Some(Lit::Int(i))) => {
                retries = crate::diag::int_in(
                    &mut diag,
                    &option.tokens,
                    i,
                    0..=100,
                    "`retries` is how many times a failed tick runs again, 0 to 100",
                    "retries = 2",
                )
                .unwrap_or(retries);
            }
            (Some(key @ ("cron" | "tz" | "missed" | "retries")), _) => {
                let (why, write) = match key {
                    "cron" => ("`cron` is a cron expression in text", "cron = \"0 */5 * * * *\""),
                    "tz" => ("`tz` is a time zone name in text", "tz = \"UTC\""),
                    "missed" => ("`missed` is the text \"skip\" or \"catch_up\"", "missed = \"catch_up\""),
                    _ => ("`retries` is a whole number from 0 to 100", "retries = 2"),
                };
                diag.error_at(&option.tokens, crate::diag::wrong_value(&option.tokens, why, write));
            }
            (None, _) => diag.error_at(
                &option.tokens,
                format!("a schedule is a string like \"30s\"; {FORMS}"),
            ),
            (Some(other), _) => {
                let hint = closest(other, OPTIONS)
                    .map(|k| format!("; did you mean `{k}`?"))
                    .unwrap_or_default();
                diag.error_at(
                    &option.tokens,
                    format!("unknown #[bao::every] option `{other}`: expected a schedule string, cron, tz, missed or retries{hint}"),
                );
            }
        }
    }
    if text.is_some() && spec.is_none() {
        // Reported above.
    } else if spec.is_none() && !diag.has_errors() {
        diag.error_span(
            Span::call_site(),
            format!("#[bao::every] needs a schedule; {FORMS}"),
        );
    }
    if matches!(spec, Some(Spec::Every(_))) && tz != "UTC" {
        diag.error_span(
            tz_span,
            "`tz` applies to times of day and cron expressions, not to intervals (which are the same everywhere): remove it",
        );
    }
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        diag.error_at(
            sig.fn_token,
            format!("scheduled function `{ident}` must be `async`: write `async fn {ident}(ctx: TaskCtx)`"),
        );
    }
    if !sig.generics.params.is_empty() {
        diag.error_at(&sig.generics, "a scheduled function cannot be generic");
    }
    let takes_ctx = sig.inputs.len() == 1
        && matches!(sig.inputs.first(), Some(FnArg::Typed(pt)) if is_task_ctx(&pt.ty));
    if !takes_ctx {
        let at: TokenStream = if sig.inputs.is_empty() {
            quote!(#ident)
        } else {
            let inputs = &sig.inputs;
            quote!(#inputs)
        };
        diag.error_at(
            at,
            format!("a scheduled function takes exactly one argument, the tick's context: `async fn {ident}(ctx: TaskCtx)` (`use bao::task::TaskCtx;`); it has no other input, so read what it needs from the database (`ctx.db()`)"),
        );
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        if matches!(**ty, Type::ImplTrait(_)) {
            diag.error_at(ty, "a scheduled function returns `()` or `bao::Result<()>`");
        }
    }
    let errors = diag.to_compile_errors();
    let (Some(spec), Some(text)) = (spec, text) else {
        return quote!(#errors #func);
    };
    if diag.has_errors() {
        return quote!(#errors #func);
    }
    let vis = &func.vis;
    let task_name = format!("every:{name}");
    let spec = match spec {
        Spec::Every(ms) => quote!(::bao::task::ScheduleSpec::Every { ms: #ms }),
        Spec::Cron(expr) => quote!(::bao::task::ScheduleSpec::Cron { expr: #expr, tz: #tz }),
    };
    let missed = if catch_up {
        quote!(::bao::task::Missed::CatchUp)
    } else {
        quote!(::bao::task::Missed::Skip)
    };
    let max_attempts = retries + 1;
    quote! {
        #func

        #[doc = concat!("The `", #name, "` schedule: its definition for `bao::app! { schedules: [..] }`.")]
        #[allow(non_snake_case)]
        #vis mod #ident {
            #[allow(unused_imports)]
            use super::*;

            /// The schedule's name.
            pub const NAME: &str = #name;

            /// The definition `bao::app! { schedules: [..] }` registers.
            pub fn definition() -> ::bao::task::ScheduleDef {
                ::bao::task::ScheduleDef {
                    name: NAME,
                    text: #text,
                    spec: #spec,
                    missed: #missed,
                    task: ::bao::task::TaskDef {
                        name: #task_name,
                        kind: ::bao::task::TaskKind::Io,
                        max_attempts: #max_attempts,
                        max_concurrency: 1,
                        run: |args| {
                            ::std::boxed::Box::pin(async move {
                                let ctx = ::bao::task::TaskCtx::from_args(NAME, args)?;
                                ::bao::task::TaskOutcome::into_task_result(super::#ident(ctx).await)
                            })
                        },
                    },
                }
            }
        }
    }
}

/// Whether a type is `TaskCtx` (by its last path segment).
fn is_task_ctx(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "TaskCtx" && s.arguments.is_empty()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_forms_parse() {
        assert_eq!(parse_schedule("30s"), Ok(Spec::Every(30_000)));
        assert_eq!(parse_schedule("5m"), Ok(Spec::Every(300_000)));
        assert_eq!(parse_schedule("1h"), Ok(Spec::Every(3_600_000)));
        assert_eq!(parse_schedule("every 10 minutes"), Ok(Spec::Every(600_000)));
        assert_eq!(parse_schedule("every hour"), Ok(Spec::Every(3_600_000)));
        assert_eq!(
            parse_schedule("every day at 06:30"),
            Ok(Spec::Cron("0 30 6 * * *".into()))
        );
        assert_eq!(
            parse_schedule("monday at 9am"),
            Ok(Spec::Cron("0 0 9 * * Mon".into()))
        );
        assert_eq!(
            parse_schedule("every Friday at 9:15pm"),
            Ok(Spec::Cron("0 15 21 * * Fri".into()))
        );
        assert_eq!(
            parse_schedule("weekdays at 12am"),
            Ok(Spec::Cron("0 0 0 * * Mon-Fri".into()))
        );
        for spec in [
            "0 30 6 * * *",
            "0 0 9 * * Mon",
            "0 0 0 * * Mon-Fri",
            "0 0 0 * * Sat,Sun",
        ] {
            assert!(parse_cron(spec).is_ok(), "{spec}");
        }
    }

    #[test]
    fn nonsense_is_refused_with_a_reason() {
        for bad in [
            "30",
            "30x",
            "0s",
            "500ms",
            "soon",
            "monday at 25:00",
            "funday at 9am",
            "at 9am",
            "monday at 13pm",
            "every",
        ] {
            assert!(parse_schedule(bad).is_err(), "{bad}");
        }
        assert!(parse_cron("* * *").is_err());
        assert_eq!(
            parse_cron("0 60 * * * *").unwrap_err(),
            "`0 60 * * * *`: minute 60 is out of range, a minute is 0 to 59"
        );
        assert!(
            parse_cron("0 59 23 31 12 *").is_ok(),
            "the bounds themselves are fine"
        );
        assert!(parse_cron("0 0 24 * * *").unwrap_err().contains("hour 24"));
        assert!(parse_cron("0 0 0 1-32 * *")
            .unwrap_err()
            .contains("day of the month 32"));
        assert!(parse_cron("0 0 0 * 0,3 *").unwrap_err().contains("month 0"));
        assert_eq!(parse_cron("*/5 * * * *").unwrap(), "0 */5 * * * *");
    }
}
