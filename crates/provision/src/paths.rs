//! Where scimitar keeps its files: the user's config dir (config.toml, themes/, policies/) and data
//! dir (the journal and report database), from the `directories` crate. `SCIMITAR_CONFIG_DIR` and
//! `SCIMITAR_DATA_DIR` override them (tests and scripts use these).

use std::path::PathBuf;

fn project() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "scimitar")
}

pub fn config_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("SCIMITAR_CONFIG_DIR") {
        return PathBuf::from(p);
    }
    project().map(|p| p.config_dir().to_path_buf()).unwrap_or_else(|| PathBuf::from(".scimitar"))
}

pub fn data_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("SCIMITAR_DATA_DIR") {
        return PathBuf::from(p);
    }
    project().map(|p| p.data_dir().to_path_buf()).unwrap_or_else(|| PathBuf::from(".scimitar"))
}

/// The SQLite database holding the action journal and the provisioning reports.
pub fn database() -> PathBuf {
    data_dir().join("scimitar.db")
}

pub fn config_file() -> PathBuf {
    config_dir().join("config.toml")
}
