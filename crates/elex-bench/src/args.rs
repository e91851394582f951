//! A small flag parser: `--name value` pairs and bare `--flag`s; unknown flags are errors.

use std::collections::HashMap;
use std::path::PathBuf;

pub struct Args {
    vals: HashMap<String, String>,
    flags: Vec<String>,
}

impl Args {
    pub fn parse(raw: &[String], bare_flags: &[&str]) -> Result<Args, String> {
        let (mut vals, mut flags) = (HashMap::new(), Vec::new());
        let mut it = raw.iter();
        while let Some(a) = it.next() {
            if !a.starts_with("--") {
                return Err(format!("unexpected argument {a}"));
            }
            if bare_flags.contains(&a.as_str()) {
                flags.push(a.clone());
            } else {
                let v = it.next().ok_or(format!("{a} needs a value"))?;
                vals.insert(a.clone(), v.clone());
            }
        }
        Ok(Args { vals, flags })
    }

    pub fn flag(&mut self, name: &str) -> bool {
        let had = self.flags.iter().any(|f| f == name);
        self.flags.retain(|f| f != name);
        had
    }

    pub fn opt_text(&mut self, name: &str) -> Option<String> {
        self.vals.remove(name)
    }

    pub fn text(&mut self, name: &str, default: &str) -> String {
        self.opt_text(name).unwrap_or_else(|| default.to_string())
    }

    pub fn path(&mut self, name: &str) -> Result<PathBuf, String> {
        self.opt_text(name)
            .map(PathBuf::from)
            .ok_or(format!("{name} is required"))
    }

    pub fn opt_num<T: std::str::FromStr>(&mut self, name: &str) -> Result<Option<T>, String> {
        match self.opt_text(name) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| format!("{name}: not a number: {v}")),
        }
    }

    pub fn num<T: std::str::FromStr>(&mut self, name: &str, default: T) -> Result<T, String> {
        Ok(self.opt_num(name)?.unwrap_or(default))
    }

    pub fn list(&mut self, name: &str, default: &[usize]) -> Result<Vec<usize>, String> {
        match self.opt_text(name) {
            None => Ok(default.to_vec()),
            Some(v) => v
                .split(',')
                .map(|x| {
                    x.trim()
                        .parse()
                        .map_err(|_| format!("{name}: bad list {v}"))
                })
                .collect(),
        }
    }

    /// Errors on anything not consumed.
    pub fn finish(&self) -> Result<(), String> {
        let mut left: Vec<&String> = self.vals.keys().chain(&self.flags).collect();
        left.sort();
        match left.first() {
            None => Ok(()),
            Some(_) => Err(format!(
                "unknown option(s): {}",
                left.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}
