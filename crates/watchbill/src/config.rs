//! Server configuration, layered: defaults, then the TOML file, then `WATCHBILL_*` variables,
//! then flags. Unknown keys in the file are errors that name the file, line and key; unknown
//! `WATCHBILL_*` variables are reported as warnings.

use std::path::Path;

use serde::Deserialize;

use crate::cli::ServeArgs;

/// The settings `watchbill serve` runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeConfig {
    pub listen: String,
    pub database_url: String,
    pub public_url: String,
    pub log: String,
    pub smtp_url: Option<String>,
    pub smtp_from: String,
    /// Where mail intake listens for SMTP; `None` turns it off.
    pub smtp_listen: Option<String>,
    /// The largest message mail intake accepts, in bytes.
    pub smtp_max_size: usize,
    /// A mailbox to read (`imaps://user:password@host/INBOX`), standing for `imap_address`.
    pub imap_url: Option<String>,
    pub imap_address: Option<String>,
    /// A PEM certificate to trust for the IMAP server, besides the public roots.
    pub imap_ca: Option<String>,
    pub sms_url: Option<String>,
    pub sms_account: Option<String>,
    pub sms_token: Option<String>,
    pub sms_from: Option<String>,
    pub demo: bool,
    /// A PEM certificate chain and its PEM private key: with both, the listener speaks TLS.
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
}

/// The keys a configuration file may hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    database_url: Option<String>,
    public_url: Option<String>,
    log: Option<String>,
    smtp_url: Option<String>,
    smtp_from: Option<String>,
    smtp_listen: Option<String>,
    smtp_max_size: Option<usize>,
    imap_url: Option<String>,
    imap_address: Option<String>,
    imap_ca: Option<String>,
    sms_url: Option<String>,
    sms_account: Option<String>,
    sms_token: Option<String>,
    sms_from: Option<String>,
    tls_cert: Option<String>,
    tls_key: Option<String>,
}

/// The `WATCHBILL_*` variables watchbill reads; any other is probably a typo.
const KNOWN_VARIABLES: &[&str] = &[
    "WATCHBILL_CONFIG",
    "WATCHBILL_LISTEN",
    "WATCHBILL_DATABASE_URL",
    "WATCHBILL_PUBLIC_URL",
    "WATCHBILL_LOG",
    "WATCHBILL_SMTP_URL",
    "WATCHBILL_SMTP_FROM",
    "WATCHBILL_SMTP_LISTEN",
    "WATCHBILL_SMTP_MAX_SIZE",
    "WATCHBILL_IMAP_URL",
    "WATCHBILL_IMAP_ADDRESS",
    "WATCHBILL_IMAP_CA",
    "WATCHBILL_SMS_URL",
    "WATCHBILL_SMS_ACCOUNT",
    "WATCHBILL_SMS_TOKEN",
    "WATCHBILL_SMS_FROM",
    "WATCHBILL_TLS_CERT",
    "WATCHBILL_TLS_KEY",
    "WATCHBILL_BOOTSTRAP_TOKEN",
    "WATCHBILL_URL",
    "WATCHBILL_TOKEN",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: String,
        line: usize,
        message: String,
    },
}

impl ServeConfig {
    /// Resolves the settings from `args` (flags and variables, as clap read them) over the file.
    pub fn load(args: &ServeArgs) -> Result<ServeConfig, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let listen = args
            .listen
            .clone()
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
        let tls_cert = args.tls_cert.clone().or(file.tls_cert);
        let tls_key = args.tls_key.clone().or(file.tls_key);
        let scheme = if tls_cert.is_some() { "https" } else { "http" };
        let public_url = args
            .public_url
            .clone()
            .or(file.public_url)
            .unwrap_or_else(|| format!("{scheme}://{listen}"));
        Ok(ServeConfig {
            database_url: args
                .database_url
                .clone()
                .or(file.database_url)
                .unwrap_or_else(|| "sqlite://watchbill.db".to_owned()),
            public_url: public_url.trim_end_matches('/').to_owned(),
            log: args
                .log
                .clone()
                .or(file.log)
                .unwrap_or_else(|| "info".to_owned()),
            listen,
            smtp_url: args.smtp_url.clone().or(file.smtp_url),
            smtp_from: args
                .smtp_from
                .clone()
                .or(file.smtp_from)
                .unwrap_or_else(|| "watchbill@localhost".to_owned()),
            smtp_listen: Some(
                args.smtp_listen
                    .clone()
                    .or(file.smtp_listen)
                    .unwrap_or_else(|| "127.0.0.1:2525".to_owned()),
            )
            .filter(|listen| !listen.trim().is_empty()),
            smtp_max_size: args
                .smtp_max_size
                .or(file.smtp_max_size)
                .unwrap_or(10 * 1024 * 1024),
            imap_url: args.imap_url.clone().or(file.imap_url),
            imap_address: args.imap_address.clone().or(file.imap_address),
            imap_ca: args.imap_ca.clone().or(file.imap_ca),
            sms_url: args.sms_url.clone().or(file.sms_url),
            sms_account: args.sms_account.clone().or(file.sms_account),
            sms_token: args.sms_token.clone().or(file.sms_token),
            sms_from: args.sms_from.clone().or(file.sms_from),
            demo: args.demo,
            tls_cert,
            tls_key,
        })
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: shown.clone(),
        source,
    })?;
    toml::from_str(&text).map_err(|error| ConfigError::Parse {
        line: error.span().map_or(1, |span| line_of(&text, span.start)),
        message: error.message().to_owned(),
        path: shown,
    })
}

/// The 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// `WATCHBILL_*` variables in the environment that watchbill does not know.
pub fn unknown_variables(vars: impl Iterator<Item = (String, String)>) -> Vec<String> {
    vars.map(|(name, _)| name)
        .filter(|name| name.starts_with("WATCHBILL_") && !name.starts_with("WATCHBILL_TEST_"))
        .filter(|name| !KNOWN_VARIABLES.contains(&name.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn serve_args(argv: &[&str]) -> ServeArgs {
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Serve(args) => args,
            other => panic!("{other:?}"),
        }
    }

    fn config_file(text: &str) -> tempfile_path::TempFile {
        tempfile_path::TempFile::new(text)
    }

    mod tempfile_path {
        use std::path::PathBuf;

        pub struct TempFile(pub PathBuf);

        impl TempFile {
            pub fn new(text: &str) -> TempFile {
                let path = std::env::temp_dir().join(format!(
                    "watchbill-config-{}.toml",
                    watchbill_store::new_secret()
                ));
                std::fs::write(&path, text).unwrap();
                TempFile(path)
            }
        }

        impl Drop for TempFile {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn defaults_apply_without_file_or_flags() {
        let config = ServeConfig::load(&ServeArgs::default()).unwrap();
        assert_eq!(config.listen, "127.0.0.1:8080");
        assert_eq!(config.database_url, "sqlite://watchbill.db");
        assert_eq!(config.public_url, "http://127.0.0.1:8080");
    }

    #[test]
    fn file_overrides_defaults_and_flags_override_file() {
        let file =
            config_file("listen = \"0.0.0.0:9000\"\ndatabase_url = \"sqlite://from-file.db\"\n");
        let path = file.0.display().to_string();
        let args = serve_args(&[
            "watchbill",
            "serve",
            "--config",
            &path,
            "--database-url",
            "sqlite://from-flag.db",
        ]);
        let config = ServeConfig::load(&args).unwrap();
        assert_eq!(config.listen, "0.0.0.0:9000");
        assert_eq!(config.database_url, "sqlite://from-flag.db");
        assert_eq!(config.public_url, "http://0.0.0.0:9000");
    }

    /// Tests run one per process under nextest, so setting a variable here cannot leak.
    #[test]
    fn variables_override_file_and_flags_override_variables() {
        let file = config_file("listen = \"127.0.0.1:1000\"\nlog = \"debug\"\n");
        let path = file.0.display().to_string();
        std::env::set_var("WATCHBILL_LISTEN", "127.0.0.1:2000");
        std::env::set_var("WATCHBILL_LOG", "warn");
        let args = serve_args(&["watchbill", "serve", "--config", &path, "--log", "trace"]);
        std::env::remove_var("WATCHBILL_LISTEN");
        std::env::remove_var("WATCHBILL_LOG");
        let config = ServeConfig::load(&args).unwrap();
        assert_eq!(config.listen, "127.0.0.1:2000");
        assert_eq!(config.log, "trace");
    }

    #[test]
    fn unknown_file_keys_are_errors_naming_the_line() {
        let file = config_file("listen = \"127.0.0.1:1\"\n\nlisten_adress = \"oops\"\n");
        let args = ServeArgs {
            config: Some(file.0.clone()),
            ..ServeArgs::default()
        };
        let error = ServeConfig::load(&args).unwrap_err().to_string();
        assert!(error.contains(":3:"), "{error}");
        assert!(error.contains("listen_adress"), "{error}");
    }

    #[test]
    fn malformed_files_are_errors() {
        let file = config_file("listen = \n");
        let args = ServeArgs {
            config: Some(file.0.clone()),
            ..ServeArgs::default()
        };
        assert!(ServeConfig::load(&args).is_err());
    }

    #[test]
    fn unknown_variables_are_reported() {
        let vars = [
            ("WATCHBILL_LISTEN", "x"),
            ("WATCHBILL_LISTN", "x"),
            ("WATCHBILL_TEST_POSTGRES_URL", "x"),
            ("HOME", "x"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        assert_eq!(
            unknown_variables(vars.into_iter()),
            vec!["WATCHBILL_LISTN".to_owned()]
        );
    }
}
