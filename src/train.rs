//! Training as the authors' v2 `trainval.py` does it (METHOD.md §3.1): Adam (lr 1e-3, betas
//! (0.5, 0.999)), mean cross-entropy, shuffled batches of 16 with the last partial batch kept,
//! train mode for the pass and eval mode for validation; after each epoch the model is kept if
//! validation accuracy strictly improved, and training stops once that improved accuracy is
//! strictly above the target. The model ends with the best-validation weights. Ctrl-C stops
//! between batches and also leaves the best weights in place.

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::metrics::{Metrics, evaluate};
use crate::nn::optim::{Adam, AdamConfig};
use crate::nn::{Model, Pass};
use crate::options::{Key, Kind, Value, key};
use crate::progress::Task;
use candle_core::Tensor;
use serde::Serialize;
use std::collections::HashMap;

#[derive(Clone, Debug, Serialize)]
pub struct TrainOptions {
    pub adam: AdamConfig,
    pub epochs: usize,
    pub batch: usize,
    /// Stop once validation accuracy (strictly improving) is strictly above this.
    pub target_val_acc: Option<f64>,
    /// Reshuffle the training set every epoch (from the seeded generator).
    pub shuffle: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            adam: AdamConfig {
                lr: 1e-3,
                beta1: 0.5,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.0,
            },
            epochs: 256,
            batch: 16,
            target_val_acc: None,
            shuffle: true,
        }
    }
}

impl crate::options::Options for TrainOptions {
    const KEYS: &'static [Key] = &[
        key(
            "lr",
            Kind::Float,
            "0.001",
            "Adam's learning rate (the paper's)",
        ),
        key(
            "betas",
            Kind::Floats,
            "[0.5, 0.999]",
            "Adam's β1, β2 (the paper's)",
        ),
        key("eps", Kind::Float, "1e-8", "Adam's ε"),
        key(
            "weight_decay",
            Kind::Float,
            "0",
            "L2 penalty, PyTorch's Adam weight_decay",
        ),
        key("epochs", Kind::Int, "256", "at most this many epochs"),
        key("batch", Kind::Int, "16", "samples per step (the paper's)"),
        key(
            "target_val_acc",
            Kind::Float,
            "none",
            "stop once validation accuracy exceeds this",
        ),
        key(
            "shuffle",
            Kind::Bool,
            "true",
            "reshuffle the training set every epoch (seeded)",
        ),
    ];

    fn set(&mut self, k: &str, v: &Value) -> Result<()> {
        match k {
            "lr" => self.adam.lr = v.f64(k)?,
            "betas" => match v.f64s(k)?[..] {
                [b1, b2] => (self.adam.beta1, self.adam.beta2) = (b1, b2),
                _ => return Err(Error::invalid("option 'betas' is [beta1, beta2]")),
            },
            "eps" => self.adam.eps = v.f64(k)?,
            "weight_decay" => self.adam.weight_decay = v.f64(k)?,
            "epochs" => self.epochs = v.usize(k)?,
            "batch" => self.batch = v.usize(k)?,
            "target_val_acc" => self.target_val_acc = Some(v.f64(k)?),
            "shuffle" => self.shuffle = v.bool(k)?,
            _ => return Err(crate::options::unknown_key("fit", k, Self::KEYS)),
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct EpochLog {
    pub epoch: usize,
    pub loss: f64,
    pub train_acc: f64,
    pub val_acc: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TrainReport {
    pub epochs: Vec<EpochLog>,
    pub best_val_acc: Option<f64>,
    pub best_epoch: Option<usize>,
    /// "target reached", "epochs done", "interrupted" or "error: …".
    pub stopped: String,
    pub seconds: f64,
}

fn snapshot(model: &Model) -> Result<HashMap<String, Tensor>> {
    model
        .state_dict()
        .into_iter()
        .map(|(k, v)| Ok((k, v.copy()?)))
        .collect()
}

/// Accuracy of the model on a dataset (eval mode, batched).
pub fn accuracy(model: &Model, ds: &Dataset, chunk: usize) -> Result<f64> {
    Ok(evaluate_model(model, ds, chunk)?.accuracy)
}

/// Predictions and metrics on a dataset.
pub fn evaluate_model(model: &Model, ds: &Dataset, chunk: usize) -> Result<Metrics> {
    let mut pred = Vec::with_capacity(ds.len());
    let mut start = 0;
    while start < ds.len() {
        crate::interrupt::check()?;
        let len = chunk.min(ds.len() - start);
        pred.extend(model.predict(&ds.batch(start, len)?, chunk)?);
        start += len;
    }
    Ok(evaluate(&ds.y, &pred, &ds.class_names))
}

/// Train `model` on `train` with Adam and cross-entropy, keeping the best-validation weights.
pub fn fit(
    model: &Model,
    train: &Dataset,
    val: Option<&Dataset>,
    opts: &TrainOptions,
) -> Result<TrainReport> {
    fit_keeping_history(model, train, val, opts).map_err(|(e, _)| e)
}

/// [`fit`], and when training stops on an error (Ctrl-C), the epochs done so far beside it
/// (`stopped: "interrupted"`), so a report can still show them.
pub fn fit_keeping_history(
    model: &Model,
    train: &Dataset,
    val: Option<&Dataset>,
    opts: &TrainOptions,
) -> std::result::Result<TrainReport, (Error, TrainReport)> {
    let mut report = TrainReport {
        epochs: vec![],
        best_val_acc: None,
        best_epoch: None,
        stopped: "epochs done".into(),
        seconds: 0.0,
    };
    match train_into(model, train, val, opts, &mut report) {
        Ok(()) => Ok(report),
        Err(e) => {
            report.stopped = match e {
                Error::Interrupted => "interrupted".into(),
                ref other => format!("error: {other}"),
            };
            Err((e, report))
        }
    }
}

fn train_into(
    model: &Model,
    train: &Dataset,
    val: Option<&Dataset>,
    opts: &TrainOptions,
    report: &mut TrainReport,
) -> Result<()> {
    if train.is_empty() {
        return Err(Error::invalid("fit: the training set is empty"));
    }
    if opts.batch == 0 {
        return Err(Error::out_of_range("fit: batch", 0, "1 or more"));
    }
    if train.class_names.len() != model.classes {
        return Err(Error::invalid(format!(
            "fit: the data has {} classes but {} outputs {}",
            train.class_names.len(),
            model.arch.name(),
            model.classes
        )));
    }
    let started = std::time::Instant::now();
    let mut adam = Adam::new(model.params.trainable(), opts.adam)?;
    let steps_per_epoch = train.len().div_ceil(opts.batch);
    let task = Task::start("train", (opts.epochs * steps_per_epoch) as u64);
    let mut best: Option<HashMap<String, Tensor>> = None;
    let labels = train.labels()?;
    let mut done = 0u64;
    let result = (|| -> Result<()> {
        for epoch in 1..=opts.epochs {
            let order = if opts.shuffle {
                crate::tensor::random::permutation(train.len())
            } else {
                (0..train.len()).collect()
            };
            let (mut loss_sum, mut correct) = (0.0, 0usize);
            for chunk in order.chunks(opts.batch) {
                crate::interrupt::check()?;
                let idx = Tensor::from_vec(
                    chunk.iter().map(|&i| i as u32).collect::<Vec<_>>(),
                    chunk.len(),
                    labels.device(),
                )?;
                let x = gather(train, chunk)?;
                let y = labels.index_select(&idx, 0)?;
                let logits = model.forward(&x, &mut Pass::train())?;
                let loss = candle_nn::loss::cross_entropy(&logits, &y)?;
                let grads = loss.backward()?;
                adam.step(&grads)?;
                let l = loss.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
                loss_sum += l * chunk.len() as f64;
                let pred = logits.argmax(1)?.to_vec1::<u32>()?;
                correct += pred
                    .iter()
                    .zip(chunk)
                    .filter(|(p, i)| **p as usize == train.y[**i])
                    .count();
                done += 1;
                task.update(done, &format!("epoch {epoch}/{} loss {l:.4}", opts.epochs));
            }
            let val_acc = match val {
                Some(v) => Some(accuracy(model, v, crate::nn::CHUNK)?),
                None => None,
            };
            let log = EpochLog {
                epoch,
                loss: loss_sum / train.len() as f64,
                train_acc: correct as f64 / train.len() as f64,
                val_acc,
            };
            task.update(
                done,
                &format!(
                    "epoch {epoch}: loss {:.4}, train acc {:.4}{}",
                    log.loss,
                    log.train_acc,
                    val_acc
                        .map(|a| format!(", val acc {a:.4}"))
                        .unwrap_or_default()
                ),
            );
            report.epochs.push(log);
            if let Some(acc) = val_acc.filter(|&a| report.best_val_acc.is_none_or(|b| a > b)) {
                report.best_val_acc = Some(acc);
                report.best_epoch = Some(epoch);
                best = Some(snapshot(model)?);
                if opts.target_val_acc.is_some_and(|t| acc > t) {
                    report.stopped = "target reached".into();
                    return Ok(());
                }
            }
        }
        Ok(())
    })();
    // Whatever happened, the model ends with its best validated weights.
    if let Some(b) = &best {
        model.load_state_dict(b, true)?;
    }
    report.seconds = started.elapsed().as_secs_f64();
    result
}

/// The samples at `idx` (in memory or decoded from files).
fn gather(ds: &Dataset, idx: &[usize]) -> Result<Tensor> {
    match &ds.storage {
        crate::data::Storage::Memory(t) => {
            let ids = Tensor::from_vec(
                idx.iter().map(|&i| i as u32).collect::<Vec<_>>(),
                idx.len(),
                t.device(),
            )?;
            let raw = t.index_select(&ids, 0)?;
            match &ds.transform {
                Some(tr) => tr.apply(&raw),
                None => Ok(raw),
            }
        }
        crate::data::Storage::Files(_) => ds.subset(idx, "batch")?.x(),
    }
}

impl std::fmt::Display for TrainReport {
    /// A short table: the outcome, then the first and last epochs (the middle elided).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "trained {} epochs in {:.1} s (stopped: {})",
            self.epochs.len(),
            self.seconds,
            self.stopped
        )?;
        if let (Some(a), Some(e)) = (self.best_val_acc, self.best_epoch) {
            write!(f, "; best val acc {a:.4} at epoch {e}, its weights kept")?;
        }
        write!(f, "\nepoch  loss    train acc  val acc")?;
        let n = self.epochs.len();
        for (i, e) in self.epochs.iter().enumerate() {
            if n > 8 && (3..n - 4).contains(&i) {
                if i == 3 {
                    write!(f, "\n  …    ({} epochs)", n - 7)?;
                }
                continue;
            }
            let val = e.val_acc.map(|v| format!("{v:.4}")).unwrap_or("-".into());
            write!(
                f,
                "\n{:>5}  {:.4}  {:.4}     {val}",
                e.epoch, e.loss, e.train_acc
            )?;
        }
        Ok(())
    }
}

/// A training run in a few lines, for reports.
pub fn describe(r: &TrainReport, o: &TrainOptions) -> String {
    let mut s = format!(
        "Adam lr {} betas ({}, {}), batch {}, up to {} epochs{}: {} epochs in {:.1} s, stopped: {}\n",
        o.adam.lr,
        o.adam.beta1,
        o.adam.beta2,
        o.batch,
        o.epochs,
        o.target_val_acc
            .map(|t| format!(", target val acc > {t}"))
            .unwrap_or_default(),
        r.epochs.len(),
        r.seconds,
        r.stopped
    );
    if let (Some(a), Some(e)) = (r.best_val_acc, r.best_epoch) {
        s.push_str(&format!(
            "best validation accuracy {a:.4} at epoch {e} (the weights kept)\n"
        ));
    }
    for e in &r.epochs {
        s.push_str(&format!(
            "epoch {:>3}: loss {:.4}, train acc {:.4}{}\n",
            e.epoch,
            e.loss,
            e.train_acc,
            e.val_acc
                .map(|v| format!(", val acc {v:.4}"))
                .unwrap_or_default()
        ));
    }
    s.trim_end().to_string()
}
