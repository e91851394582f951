//! The options of a subcommand, read with `lexopt` (`--name value`, `--name=value`, bare
//! `--flag`s); accessors take what they read, and `finish` refuses anything left over.

use std::collections::HashMap;
use std::path::PathBuf;

pub struct Args {
    vals: HashMap<String, String>,
    flags: Vec<String>,
}

impl Args {
    /// Reads `raw` (the arguments after the subcommand); the names in `bare_flags` take no value.
    pub fn parse(raw: &[String], bare_flags: &[&str]) -> Result<Args, String> {
        use lexopt::prelude::*;
        let (mut vals, mut flags) = (HashMap::new(), Vec::new());
        let mut p = lexopt::Parser::from_args(raw.iter().cloned());
        while let Some(arg) = p.next().map_err(|e| e.to_string())? {
            match arg {
                Long(name) => {
                    let name = format!("--{name}");
                    if bare_flags.contains(&name.as_str()) {
                        flags.push(name);
                    } else {
                        let v = p.value().map_err(|e| e.to_string())?;
                        let v = v.string().map_err(|e| format!("{name}: {e}"))?;
                        vals.insert(name, v);
                    }
                }
                other => return Err(other.unexpected().to_string()),
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

#[cfg(test)]
mod tests {
    use super::Args;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn values_flags_and_equals_forms() {
        let mut a = Args::parse(
            &args(&["--k", "10", "--keep-f32", "--ef=10,20", "--base", "b.fvecs"]),
            &["--keep-f32"],
        )
        .unwrap();
        assert_eq!(a.num::<usize>("--k", 1).unwrap(), 10);
        assert_eq!(a.list("--ef", &[1]).unwrap(), vec![10, 20]);
        assert!(a.flag("--keep-f32"));
        assert_eq!(a.path("--base").unwrap().to_str(), Some("b.fvecs"));
        assert_eq!(a.num::<usize>("--m", 16).unwrap(), 16);
        a.finish().unwrap();
    }

    #[test]
    fn errors_name_the_argument() {
        let e = Args::parse(&args(&["--k"]), &[]).err().unwrap();
        assert!(e.contains("--k"), "{e}");
        let e = Args::parse(&args(&["stray"]), &[]).err().unwrap();
        assert!(e.contains("stray"), "{e}");
        let mut a = Args::parse(&args(&["--k", "ten"]), &[]).unwrap();
        assert!(a.num::<usize>("--k", 1).unwrap_err().contains("ten"));
        let a = Args::parse(&args(&["--bogus", "1"]), &[]).unwrap();
        assert!(a.finish().unwrap_err().contains("--bogus"));
    }
}
