//! CronJob schedules as the CronJob controller parses them: shared by the
//! early check on the blueprint and the final check on the output.

/// A standard five-field cron expression or a macro, as the CronJob
/// controller's parser (robfig/cron) accepts it; time zones go in `timeZone`.
pub fn parse(schedule: &str) -> Result<(), String> {
    const MACROS: [&str; 7] = [
        "@yearly",
        "@annually",
        "@monthly",
        "@weekly",
        "@daily",
        "@midnight",
        "@hourly",
    ];
    let schedule = schedule.trim();
    if MACROS.contains(&schedule) {
        return Ok(());
    }
    if schedule.starts_with("TZ=") || schedule.starts_with("CRON_TZ=") {
        return Err("time zones go in `spec.timeZone`, not the schedule".into());
    }
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("it has {} fields, not 5", fields.len()));
    }
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let specs: [(&str, u32, u32, &[&str], u32); 5] = [
        ("minute", 0, 59, &[], 0),
        ("hour", 0, 23, &[], 0),
        ("day of month", 1, 31, &[], 0),
        ("month", 1, 12, &MONTHS, 1),
        ("day of week", 0, 7, &DAYS, 0),
    ];
    for (field, (what, min, max, names, first)) in fields.iter().zip(specs) {
        cron_field(field, min, max, names, first).map_err(|e| format!("{what} `{field}`: {e}"))?;
    }
    Ok(())
}

fn cron_field(field: &str, min: u32, max: u32, names: &[&str], first: u32) -> Result<(), String> {
    let value = |s: &str| -> Result<u32, String> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            return Ok(i as u32 + first);
        }
        let n: u32 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
        if n < min || n > max {
            return Err(format!("{n} is outside {min}-{max}"));
        }
        Ok(n)
    };
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (part, None),
        };
        if let Some(step) = step {
            let n: u32 = step
                .parse()
                .map_err(|_| format!("step `{step}` is not a number"))?;
            if n == 0 {
                return Err("a step of 0".into());
            }
        }
        match range {
            "*" | "?" => {}
            _ => match range.split_once('-') {
                Some((a, b)) => {
                    if value(a)? > value(b)? {
                        return Err(format!("range `{range}` runs backwards"));
                    }
                }
                None => {
                    value(range)?;
                }
            },
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn cron_expressions() {
        assert!(parse("0 3 * * *").is_ok());
        assert!(parse("*/15 0-6 1,15 jan-mar mon-fri").is_ok());
        assert!(parse("@daily").is_ok());
        assert!(parse("61 25 32 13 8").is_err());
        assert!(parse("0 3 * *").is_err());
        assert!(parse("TZ=UTC 0 3 * * *").is_err());
        assert!(parse("*/0 * * * *").is_err());
        assert!(parse("every day").is_err());
    }
}
