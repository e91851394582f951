//! The pressure monitor: a ring of recent pressure samples, their trend, and the share of bytes to
//! evict at each pressure level.
//!
//! A sample is the larger of the cache's own fill (accounted bytes / budget) and the pressure the
//! host reports (for example from memory events or `performance.measureUserAgentSpecificMemory`),
//! both in `[0, 1]`. The trend is the least-squares slope over the ring: above `+trend_epsilon`
//! per sample it is growing, below `-trend_epsilon` shrinking, stable otherwise. When a sample
//! reaches the threshold, [`Cache::relieve`](crate::Cache::relieve) evicts a share of the
//! accounted bytes: by default 10% below 0.7, 20% below 0.85, 30% below 0.95 and 50% above.

use crate::CacheError;

/// Direction of pressure over the sample window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trend {
    /// Pressure is rising.
    Growing,
    /// Pressure is flat within the epsilon.
    Stable,
    /// Pressure is falling.
    Shrinking,
}

/// When and how much the cache sheds under pressure.
#[derive(Clone, Debug, PartialEq)]
pub struct PressureConfig {
    /// Pressure at or above which a sample triggers eviction (default 0.85).
    pub threshold: f64,
    /// Level boundaries, ascending (default 0.7, 0.85, 0.95).
    pub levels: [f64; 3],
    /// Share of accounted bytes to evict below `levels[0]`, below `levels[1]`, below `levels[2]`,
    /// and at or above `levels[2]` (default 0.10, 0.20, 0.30, 0.50).
    pub shares: [f64; 4],
    /// Samples kept for the trend (default 16).
    pub window: usize,
    /// Slope per sample below which the trend is stable (default 0.005).
    pub trend_epsilon: f64,
}

impl Default for PressureConfig {
    fn default() -> Self {
        PressureConfig {
            threshold: 0.85,
            levels: [0.7, 0.85, 0.95],
            shares: [0.10, 0.20, 0.30, 0.50],
            window: 16,
            trend_epsilon: 0.005,
        }
    }
}

impl PressureConfig {
    pub(crate) fn check(&self) -> Result<(), CacheError> {
        let bad = |m: &str| Err(CacheError::InvalidConfig(m.to_string()));
        if !(self.threshold.is_finite() && self.threshold >= 0.0) {
            return bad("pressure threshold must be a finite number >= 0");
        }
        if !self.levels.iter().all(|l| l.is_finite()) || !self.levels.is_sorted() {
            return bad("pressure levels must be finite and ascending");
        }
        if !self.shares.iter().all(|s| (0.0..=1.0).contains(s)) {
            return bad("eviction shares must lie in [0, 1]");
        }
        if self.window < 2 {
            return bad("the pressure window must hold at least 2 samples");
        }
        if !(self.trend_epsilon.is_finite() && self.trend_epsilon >= 0.0) {
            return bad("trend epsilon must be a finite number >= 0");
        }
        Ok(())
    }

    /// The share of bytes to evict at this pressure.
    pub fn share(&self, pressure: f64) -> f64 {
        let level = self.levels.iter().filter(|&&l| pressure >= l).count();
        self.shares[level]
    }
}

/// Recent pressure samples.
#[derive(Clone, Debug)]
pub struct PressureMonitor {
    config: PressureConfig,
    ring: Vec<f64>,
    next: usize,
    filled: usize,
}

impl PressureMonitor {
    /// An empty monitor.
    pub fn new(config: PressureConfig) -> Result<Self, CacheError> {
        config.check()?;
        Ok(PressureMonitor {
            ring: vec![0.0; config.window],
            config,
            next: 0,
            filled: 0,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &PressureConfig {
        &self.config
    }

    /// Records a sample (clamped to `[0, 1]`; NaN counts as 0).
    pub fn record(&mut self, pressure: f64) {
        let p = if pressure.is_nan() {
            0.0
        } else {
            pressure.clamp(0.0, 1.0)
        };
        self.ring[self.next] = p;
        self.next = (self.next + 1) % self.ring.len();
        self.filled = (self.filled + 1).min(self.ring.len());
    }

    /// The latest sample, if any.
    pub fn latest(&self) -> Option<f64> {
        (self.filled > 0).then(|| self.ring[(self.next + self.ring.len() - 1) % self.ring.len()])
    }

    /// Samples oldest first.
    pub fn history(&self) -> Vec<f64> {
        let n = self.ring.len();
        (0..self.filled)
            .map(|i| self.ring[(self.next + n - self.filled + i) % n])
            .collect()
    }

    /// Least-squares slope per sample over the window (0 with fewer than 2 samples).
    pub fn slope(&self) -> f64 {
        let h = self.history();
        let n = h.len() as f64;
        if h.len() < 2 {
            return 0.0;
        }
        let mean_x = (n - 1.0) / 2.0;
        let mean_y = h.iter().sum::<f64>() / n;
        let (mut num, mut den) = (0.0, 0.0);
        for (i, y) in h.iter().enumerate() {
            let dx = i as f64 - mean_x;
            num += dx * (y - mean_y);
            den += dx * dx;
        }
        num / den
    }

    /// The trend over the window.
    pub fn trend(&self) -> Trend {
        let s = self.slope();
        if s > self.config.trend_epsilon {
            Trend::Growing
        } else if s < -self.config.trend_epsilon {
            Trend::Shrinking
        } else {
            Trend::Stable
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_follow_the_levels() {
        let c = PressureConfig::default();
        assert_eq!(c.share(0.5), 0.10);
        assert_eq!(c.share(0.69), 0.10);
        assert_eq!(c.share(0.7), 0.20);
        assert_eq!(c.share(0.85), 0.30);
        assert_eq!(c.share(0.95), 0.50);
        assert_eq!(c.share(1.0), 0.50);
    }

    #[test]
    fn trend_sees_direction() {
        let mut m = PressureMonitor::new(PressureConfig::default()).unwrap();
        assert_eq!(m.trend(), Trend::Stable);
        for i in 0..10 {
            m.record(0.3 + 0.05 * i as f64);
        }
        assert_eq!(m.trend(), Trend::Growing);
        for i in 0..16 {
            m.record(0.9 - 0.04 * i as f64);
        }
        assert_eq!(m.trend(), Trend::Shrinking);
        for _ in 0..16 {
            m.record(0.5);
        }
        assert_eq!(m.trend(), Trend::Stable);
        assert_eq!(m.history().len(), 16);
        assert_eq!(m.latest(), Some(0.5));
        m.record(f64::NAN);
        m.record(7.0);
        assert_eq!(m.latest(), Some(1.0));
    }

    #[test]
    fn bad_configs_are_errors() {
        let mut c = PressureConfig {
            levels: [0.9, 0.8, 0.95],
            ..PressureConfig::default()
        };
        assert!(PressureMonitor::new(c.clone()).is_err());
        c.levels = [0.7, 0.8, 0.9];
        c.shares[2] = 1.5;
        assert!(PressureMonitor::new(c.clone()).is_err());
        c.shares[2] = 0.3;
        c.window = 1;
        assert!(PressureMonitor::new(c).is_err());
    }
}
