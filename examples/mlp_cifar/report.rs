//! The run's outputs: the report's table, metrics.json and curves.png.

use super::{Args, Epoch};
use plotters::prelude::*;
use serde_json::json;
use std::path::Path;

/// The figures of the report's table for this run.
pub struct Summary {
    pub device: String,
    /// `Device::describe`: the device's kind, platform and plugin versions.
    pub device_description: String,
    pub train_seconds: f64,
    pub epochs: usize,
    pub best_epoch: usize,
    pub best_val_acc: f64,
    pub test_loss: f64,
    pub test_acc: f64,
    pub peak_rss_mb: Option<f64>,
    pub peak_device_mb: Option<f64>,
}

/// The process's peak resident memory (VmHWM), in MB.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb / 1024.0)
}

fn mb(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.0}")).unwrap_or_else(|| "n/a".into())
}

/// Prints the report's table for this run.
pub fn print_table(s: &Summary) {
    println!();
    println!(
        "| framework | device | training time (s) | epochs | best val acc | test acc | peak RSS (MB) | peak device memory (MB) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    println!(
        "| rjax {} | {} | {:.1} | {} (best {}) | {:.4} | {:.4} | {} | {} |",
        env!("CARGO_PKG_VERSION"),
        s.device,
        s.train_seconds,
        s.epochs,
        s.best_epoch,
        s.best_val_acc,
        s.test_acc,
        mb(s.peak_rss_mb),
        mb(s.peak_device_mb)
    );
}

/// Writes every epoch's figures, the configuration, versions and the device.
pub fn write_metrics(path: &Path, args: &Args, s: &Summary, history: &[Epoch]) -> std::io::Result<()> {
    let epochs: Vec<_> = history
        .iter()
        .map(|e| {
            json!({
                "epoch": e.epoch, "train_loss": e.train_loss, "train_acc": e.train_acc,
                "val_loss": e.val_loss, "val_acc": e.val_acc, "seconds": e.seconds, "train_seconds": e.train_seconds, "val_seconds": e.val_seconds,
                "samples_per_s": e.samples_per_s,
            })
        })
        .collect();
    let p = &args.protocol;
    let cache = rjax::compilation_cache_stats();
    let doc = json!({
        "config": {
            "device": args.device, "data_dir": p.data_dir, "epochs": p.epochs, "patience": p.patience,
            "batch_size": p.batch_size, "lr": p.lr, "dropout": p.dropout, "seed": p.seed,
            "val_size": p.val_size, "widths": super::WIDTHS,
        },
        "versions": { "rjax": env!("CARGO_PKG_VERSION"), "rustc_target": std::env::consts::ARCH },
        // programs loaded from the compilation cache instead of compiled (RJAX_COMPILATION_CACHE_DIR)
        "compilation_cache": {
            "dir": rjax::compilation_cache_dir(), "hits": cache.hits, "misses": cache.misses,
            "writes": cache.writes, "rejected": cache.rejected,
        },
        "device": s.device,
        "device_description": s.device_description,
        "summary": {
            "train_seconds": s.train_seconds, "epochs": s.epochs, "best_epoch": s.best_epoch,
            "best_val_acc": s.best_val_acc, "test_loss": s.test_loss, "test_acc": s.test_acc,
            "peak_rss_mb": s.peak_rss_mb, "peak_device_mb": s.peak_device_mb,
        },
        "epochs": epochs,
    });
    let text = serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?;
    std::fs::write(path, text)
}

/// The chart's typeface, carried in the example (font/LICENSE) so that the
/// chart needs no system fonts: a bare server or GPU image has none.
static FONT: &[u8] = include_bytes!("font/DejaVuSans-ascii.ttf");

/// Makes [`FONT`] plotters' "sans-serif", once.
fn register_font() -> Result<(), Box<dyn std::error::Error>> {
    static DONE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *DONE.get_or_init(|| plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok());
    if ok { Ok(()) } else { Err("the chart's font (font/DejaVuSans-ascii.ttf) does not parse".into()) }
}

/// Loss and accuracy per epoch, train and validation, side by side.
pub fn plot_curves(path: &Path, history: &[Epoch]) -> Result<(), Box<dyn std::error::Error>> {
    register_font()?;
    let root = BitMapBackend::new(path, (1200, 450)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(600);
    let n = history.len().max(2) as f64;
    // non-finite points (a diverged epoch) are left out: they have no place on the axes
    let series = |f: fn(&Epoch) -> f64| {
        history.iter().map(move |e| (e.epoch as f64, f(e))).filter(|(_, y)| y.is_finite()).collect::<Vec<_>>()
    };
    type Line = (fn(&Epoch) -> f64, &'static str);
    let panels: [(&DrawingArea<_, _>, &str, [Line; 2]); 2] = [
        (&left, "loss", [(|e| e.train_loss, "train"), (|e| e.val_loss, "validation")]),
        (&right, "accuracy", [(|e| e.train_acc, "train"), (|e| e.val_acc, "validation")]),
    ];
    for (area, title, lines) in panels {
        let ys: Vec<f64> = lines.iter().flat_map(|(f, _)| history.iter().map(f)).filter(|y| y.is_finite()).collect();
        let lo = ys.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = ys.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        // no finite value at all: an empty panel on [0, 1]
        let (lo, hi) = if ys.is_empty() { (0.0, 1.0) } else { (lo, hi) };
        // a span too wide for f64 (values near ±1e308) gets no padding
        let pad = if (hi - lo).is_finite() { ((hi - lo) * 0.1).max(1e-3) } else { 0.0 };
        let (lo, hi) = if (hi - lo).is_finite() { (lo, hi) } else { (lo / 2.0, hi / 2.0) };
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d(1f64..n, (lo - pad)..(hi + pad))?;
        chart.configure_mesh().x_desc("epoch").y_desc(title).draw()?;
        for ((f, name), color) in lines.into_iter().zip([BLUE, RED]) {
            chart
                .draw_series(LineSeries::new(series(f), color.stroke_width(2)))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    }
    root.present()?;
    Ok(())
}
