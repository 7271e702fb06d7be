//! Grid carbon intensity and data-centre PUE.
//!
//! CO2 = energy (kWh, after PUE) x carbon intensity (g CO2eq / kWh).
//!
//! The default intensity is a world average of **475 g/kWh** (the
//! International Energy Agency's 2019 world average, the fallback used by
//! carbontracker and by the PePR paper's measurements). More recent figures
//! are a little higher (Ember reports 481 g/kWh for 2023).
//!
//! [`COUNTRY_AVERAGES`] holds 2023 annual averages of the carbon intensity of
//! electricity *generation*, from Ember and the Energy Institute as published
//! by Our World in Data ("Carbon intensity of electricity generation",
//! <https://ourworldindata.org/grapher/carbon-intensity-electricity>),
//! rounded to whole grams; the Norway figure is Ember's 2023 value. Grids
//! change from year to year and hour to hour: pass a current or local figure
//! with [`CarbonIntensity::new`] when you have one.

use serde::{Deserialize, Serialize};

use crate::errors::{PeprError, Result, invalid_parameter};

/// The world-average carbon intensity used by default, g CO2eq / kWh.
pub const WORLD_AVERAGE_G_PER_KWH: f64 = 475.0;

/// PUE used by default: 1.0, i.e. only the energy the machine itself draws.
///
/// Chosen because this crate measures the machine it runs on, which is often
/// a workstation with no data-centre overhead; set the PUE of your data
/// centre (e.g. [`PAPER_PUE`]) with
/// [`MeterConfig::with_pue`](crate::MeterConfig::with_pue).
pub const DEFAULT_PUE: f64 = 1.0;

/// The PUE the PePR paper's measurements used (carbontracker's data-centre
/// default at the time).
pub const PAPER_PUE: f64 = 1.55;

/// Country averages: (ISO 3166 alpha-2 code, country, g CO2eq / kWh), 2023;
/// see the module docs for the source.
pub const COUNTRY_AVERAGES: &[(&str, &str, f64)] = &[
    ("AT", "Austria", 111.0),
    ("AU", "Australia", 549.0),
    ("BE", "Belgium", 138.0),
    ("BR", "Brazil", 98.0),
    ("CA", "Canada", 170.0),
    ("CN", "China", 582.0),
    ("CZ", "Czechia", 450.0),
    ("DE", "Germany", 381.0),
    ("DK", "Denmark", 152.0),
    ("FI", "Finland", 79.0),
    ("FR", "France", 56.0),
    ("GR", "Greece", 337.0),
    ("IE", "Ireland", 291.0),
    ("IN", "India", 713.0),
    ("NO", "Norway", 30.0),
];

/// A grid carbon intensity with where it came from.
///
/// # Example
///
/// ```
/// use smallscale_pepr_score::CarbonIntensity;
///
/// let world = CarbonIntensity::world_average();
/// assert_eq!(world.grams_per_kwh, 475.0);
/// let dk = CarbonIntensity::country("dk")?;
/// assert_eq!(dk.grams_per_kwh, 152.0);
/// let mine = CarbonIntensity::new(120.0, "my utility's 2024 mix")?;
/// assert_eq!(mine.co2_grams(2.0), 240.0);
/// # Ok::<(), smallscale_pepr_score::PeprError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CarbonIntensity {
    /// g CO2eq per kWh.
    pub grams_per_kwh: f64,
    /// Where the figure came from.
    pub source: String,
}

impl CarbonIntensity {
    /// A user-supplied intensity (finite, >= 0) and its source.
    ///
    /// # Errors
    ///
    /// [`PeprError::InvalidParameter`] otherwise.
    pub fn new(grams_per_kwh: f64, source: impl Into<String>) -> Result<Self> {
        if !(grams_per_kwh.is_finite() && grams_per_kwh >= 0.0) {
            return Err(invalid_parameter(
                "carbon intensity",
                grams_per_kwh,
                "must be finite and >= 0 g CO2eq/kWh",
            ));
        }
        Ok(Self {
            grams_per_kwh,
            source: source.into(),
        })
    }

    /// The world average, 475 g/kWh.
    pub fn world_average() -> Self {
        Self {
            grams_per_kwh: WORLD_AVERAGE_G_PER_KWH,
            source: "world average (IEA 2019), 475 g/kWh".to_string(),
        }
    }

    /// The 2023 average of a country in [`COUNTRY_AVERAGES`] by ISO code
    /// (case-insensitive).
    ///
    /// # Errors
    ///
    /// [`PeprError::InvalidParameter`] for a code not in the table; the
    /// message lists the codes known.
    pub fn country(code: &str) -> Result<Self> {
        COUNTRY_AVERAGES
            .iter()
            .find(|(c, _, _)| c.eq_ignore_ascii_case(code))
            .map(|(c, name, g)| Self {
                grams_per_kwh: *g,
                source: format!("{name} ({c}) 2023 average, Ember / Our World in Data"),
            })
            .ok_or_else(|| PeprError::InvalidParameter {
                name: "country".to_string(),
                value: code.to_string(),
                reason: format!(
                    "no average for this code; known: {}; or give a figure with CarbonIntensity::new",
                    COUNTRY_AVERAGES
                        .iter()
                        .map(|(c, _, _)| *c)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
    }

    /// Grams of CO2eq for `kwh` kilowatt-hours.
    pub fn co2_grams(&self, kwh: f64) -> f64 {
        kwh * self.grams_per_kwh
    }
}

impl Default for CarbonIntensity {
    fn default() -> Self {
        Self::world_average()
    }
}
