//! Colour maps: matplotlib's `bwr` (diverging, blue–white–red, centred at 0) and `Reds`
//! (sequential), as the paper's heatmap figures use them.

/// Which colour map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorMap {
    /// Blue (−limit) – white (0) – red (+limit).
    Bwr,
    /// White (0) – dark red (limit).
    Reds,
}

impl ColorMap {
    pub fn parse(s: &str) -> crate::Result<ColorMap> {
        match s {
            "bwr" | "diverging" => Ok(ColorMap::Bwr),
            "reds" | "Reds" => Ok(ColorMap::Reds),
            other => Err(crate::Error::unknown("colour map", other, &["bwr", "reds"])),
        }
    }

    /// The colour of `v` for limits ±`limit` (bwr) or [0, `limit`] (reds).
    pub fn color(self, v: f64, limit: f64) -> [u8; 3] {
        let limit = if limit > 0.0 && limit.is_finite() {
            limit
        } else {
            1.0
        };
        match self {
            ColorMap::Bwr => bwr(((v / limit).clamp(-1.0, 1.0) + 1.0) / 2.0),
            ColorMap::Reds => reds((v / limit).clamp(0.0, 1.0)),
        }
    }
}

fn lerp(a: [f64; 3], b: [f64; 3], t: f64) -> [u8; 3] {
    let c = |i: usize| {
        ((a[i] + (b[i] - a[i]) * t) * 255.0)
            .round()
            .clamp(0.0, 255.0) as u8
    };
    [c(0), c(1), c(2)]
}

/// matplotlib `bwr` at u ∈ [0, 1]: blue → white at 0.5 → red.
pub fn bwr(u: f64) -> [u8; 3] {
    if u.is_nan() {
        return [128, 128, 128];
    }
    if u < 0.5 {
        lerp([0.0, 0.0, 1.0], [1.0, 1.0, 1.0], u / 0.5)
    } else {
        lerp([1.0, 1.0, 1.0], [1.0, 0.0, 0.0], (u - 0.5) / 0.5)
    }
}

/// matplotlib `Reds` at u ∈ [0, 1] (piecewise linear through its anchor colours).
pub fn reds(u: f64) -> [u8; 3] {
    const A: [[f64; 3]; 5] = [
        [1.0, 0.961, 0.941],
        [0.988, 0.733, 0.631],
        [0.984, 0.416, 0.290],
        [0.796, 0.094, 0.114],
        [0.404, 0.0, 0.051],
    ];
    if u.is_nan() {
        return [128, 128, 128];
    }
    let x = u.clamp(0.0, 1.0) * 4.0;
    let i = (x.floor() as usize).min(3);
    lerp(A[i], A[i + 1], x - i as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(ColorMap::Bwr.color(0.0, 1.0), [255, 255, 255]);
        assert_eq!(ColorMap::Bwr.color(1.0, 1.0), [255, 0, 0]);
        assert_eq!(ColorMap::Bwr.color(-2.0, 2.0), [0, 0, 255]);
        assert_eq!(ColorMap::Bwr.color(-0.5, 1.0), [128, 128, 255]);
        assert_eq!(ColorMap::Reds.color(0.0, 1.0), [255, 245, 240]);
    }
}
