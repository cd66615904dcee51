//! CONFIG GET and SET: the settings a client can read and change, by name.

use std::sync::atomic::Ordering;

use crate::server::Shared;

fn parse_count(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let (digits, unit) = match text.to_ascii_lowercase() {
        t if t.ends_with("gb") => (t[..t.len() - 2].to_string(), 1usize << 30),
        t if t.ends_with("mb") => (t[..t.len() - 2].to_string(), 1 << 20),
        t if t.ends_with("kb") => (t[..t.len() - 2].to_string(), 1 << 10),
        t => (t, 1),
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .ok_or_else(|| "argument must be a memory or number value".to_string())
}

/// Sets a setting from its text, or says why not.
type SetFn = fn(&Shared, &str) -> Result<(), String>;

/// One setting CONFIG GET and SET know.
pub(crate) struct Setting {
    /// Its name.
    pub(crate) name: &'static str,
    /// Reads it.
    pub(crate) get: fn(&Shared) -> String,
    /// Sets it from text, or says why not.
    pub(crate) set: Option<SetFn>,
}

macro_rules! count_setting {
    ($name:literal, $field:ident, $min:expr) => {
        Setting {
            name: $name,
            get: |s| s.settings.$field.load(Ordering::Relaxed).to_string(),
            set: Some(|s, text| {
                let value = parse_count(text)?;
                if value < $min {
                    return Err(format!("argument must be at least {}", $min));
                }
                s.settings.$field.store(value, Ordering::Relaxed);
                Ok(())
            }),
        }
    };
}

/// The settings CONFIG knows, by name.
pub(crate) static SETTINGS: &[Setting] = &[
    count_setting!("maxclients", max_clients, 1),
    count_setting!("proto-max-bulk-len", max_bulk_bytes, 1024 * 1024),
    count_setting!("proto-max-multibulk-len", max_args, 1),
    count_setting!("proto-inline-max-size", max_inline_bytes, 1024),
    count_setting!("client-query-buffer-limit", query_buffer_bytes, 1024 * 1024),
    count_setting!(
        "client-output-buffer-bytes",
        output_buffer_bytes,
        1024 * 1024
    ),
    count_setting!("tracking-table-max-keys", tracking_table_max_keys, 1),
    count_setting!("tracking-window-keys", tracking_window_keys, 1),
    Setting {
        name: "timeout",
        get: |s| {
            s.settings
                .idle_timeout_s
                .load(Ordering::Relaxed)
                .to_string()
        },
        set: Some(|s, text| {
            let value = text
                .trim()
                .parse::<u64>()
                .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
            s.settings.idle_timeout_s.store(value, Ordering::Relaxed);
            Ok(())
        }),
    },
    Setting {
        name: "requirepass",
        get: |s| s.acl.requirepass(),
        set: Some(|s, text| s.acl.set_requirepass(text)),
    },
    Setting {
        name: "databases",
        get: |_| "1".into(),
        set: None,
    },
    Setting {
        name: "save",
        get: |_| String::new(),
        set: None,
    },
    Setting {
        name: "appendonly",
        get: |_| "yes".into(),
        set: None,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_count("2mb"), Ok(2 << 20));
        assert_eq!(parse_count("1GB"), Ok(1 << 30));
        assert_eq!(parse_count("17"), Ok(17));
        assert!(parse_count("x").is_err());
    }
}
