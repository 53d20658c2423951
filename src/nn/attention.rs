//! The paper's attention blocks (METHOD.md §1.1–1.2): Feature Product Attention on vectors and
//! Spatial Product Attention on images. Both end in A = softmax(Q·Kᵀ/√c) over the last axis, where
//! Q and K are the two channel halves of conv→BN→ReLU features.

use super::act::ActKind;
use super::graph::emit::Emitter;
use super::graph::{Binary, Op};
use super::layers::{Act, BatchNorm, Conv1d, Conv2d, ConvSpec, batch_norm_act};
use super::module::{Module, call};
use super::params::Builder;
use super::pass::Pass;
use candle_core::{Result, Tensor};

/// Q·Kᵀ/√c and the softmax module, on features (B, 2c, N).
fn product_attention(h: &Tensor, c: usize, softmax: &Act, pass: &mut Pass) -> Result<Tensor> {
    let q = h.narrow(1, 0, c)?;
    let k = h.narrow(1, c, c)?;
    let scale = Tensor::new((c as f64).sqrt(), h.device())?.to_dtype(h.dtype())?;
    let s = q
        .contiguous()?
        .matmul(&k.transpose(1, 2)?.contiguous()?)?
        .broadcast_div(&scale)?;
    call(softmax, &s, pass)
}

/// The same as a graph: slices for Q and K, a transposed product, the softmax site.
fn emit_product_attention(
    e: &mut Emitter,
    module: &str,
    h: &str,
    c: usize,
    softmax: &Act,
) -> crate::Result<String> {
    let axis = e.ints(&[1]);
    let (zero, mid, end) = (e.ints(&[0]), e.ints(&[c as i64]), e.ints(&[2 * c as i64]));
    let q = e.op(
        module,
        Op::Slice,
        vec![h.into(), zero, mid.clone(), axis.clone()],
    );
    let k = e.op(module, Op::Slice, vec![h.into(), mid, end, axis]);
    let kt = e.op(
        module,
        Op::Transpose {
            perm: Some(vec![0, 2, 1]),
        },
        vec![k],
    );
    let s = e.op(module, Op::MatMul, vec![q, kt]);
    let scale = e.scalar((c as f64).sqrt());
    let s = e.op(module, Op::Binary(Binary::Div), vec![s, scale]);
    softmax.emit(e, &s)
}

/// conv → BN → ReLU, as often as there are convolutions.
fn emit_units(
    e: &mut Emitter,
    x: &str,
    convs: &[&dyn Module],
    bns: &[BatchNorm],
    acts: &[Act],
) -> crate::Result<String> {
    let mut h = x.to_string();
    for ((c, b), a) in convs.iter().zip(bns).zip(acts) {
        h = c.emit(e, &h)?;
        h = b.emit(e, &h)?;
        h = a.emit(e, &h)?;
    }
    Ok(h)
}

/// `FPA(1, c)`: (B, d) → (B, c, c). Convs k=7 then k=3, stride 1.
pub struct Fpa {
    pub name: String,
    pub c: usize,
    pub convs: Vec<Conv1d>,
    pub bns: Vec<BatchNorm>,
    pub acts: Vec<Act>,
    pub softmax: Act,
}

impl Fpa {
    pub fn new(b: &mut Builder, name: &str, c: usize) -> Result<Self> {
        let mut s = b.sub(name);
        let (convs, bns) = {
            let mut cs = s.sub("fconvs");
            let c0 = Conv1d::new(&mut cs, "0", 1, 7, 7, 1, 0)?;
            let c1 = Conv1d::new(&mut cs, "1", 7, 2 * c, 3, 1, 0)?;
            drop(cs);
            let mut bs = s.sub("bns");
            let b0 = BatchNorm::new(&mut bs, "0", 7, 1e-5)?;
            let b1 = BatchNorm::new(&mut bs, "1", 2 * c, 1e-5)?;
            (vec![c0, c1], vec![b0, b1])
        };
        let a = s.sub("act");
        let acts = vec![
            Act::new(&a, "0", ActKind::Relu),
            Act::new(&a, "1", ActKind::Relu),
        ];
        let softmax = Act::new(&s, "softmax", ActKind::Softmax);
        Ok(Fpa {
            name: s.path(),
            c,
            convs,
            bns,
            acts,
            softmax,
        })
    }
}

impl Module for Fpa {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "fpa"
    }
    fn forward(&self, x: &Tensor, pass: &mut Pass) -> Result<Tensor> {
        let mut h = x.unsqueeze(1)?;
        for i in 0..2 {
            h = call(&self.convs[i], &h, pass)?;
            h = batch_norm_act(&self.bns[i], &self.acts[i], &h, None, pass)?;
        }
        product_attention(&h, self.c, &self.softmax, pass)
    }
    fn emit(&self, e: &mut Emitter, x: &str) -> crate::Result<String> {
        let axes = e.ints(&[1]);
        let h = e.op(&self.name, Op::Unsqueeze, vec![x.into(), axes]);
        let convs: Vec<&dyn Module> = self.convs.iter().map(|c| c as &dyn Module).collect();
        let h = emit_units(e, &h, &convs, &self.bns, &self.acts)?;
        emit_product_attention(e, &self.name, &h, self.c, &self.softmax)
    }
    fn children(&self) -> Vec<&dyn Module> {
        let mut v: Vec<&dyn Module> = Vec::new();
        for i in 0..2 {
            v.push(&self.convs[i]);
            v.push(&self.bns[i]);
            v.push(&self.acts[i]);
        }
        v.push(&self.softmax);
        v
    }
}

/// `SPA(in_c, c)`: (B, in_c, H, W) → (B, c, c). Four stride-2 convs (7×7 then 3×3).
pub struct Spa {
    pub name: String,
    pub c: usize,
    pub convs: Vec<Conv2d>,
    pub bns: Vec<BatchNorm>,
    pub acts: Vec<Act>,
    pub softmax: Act,
}

impl Spa {
    pub fn new(b: &mut Builder, name: &str, in_c: usize, c: usize) -> Result<Self> {
        let mut s = b.sub(name);
        let chans = [(in_c, 7, 7), (7, 7, 3), (7, 17, 3), (17, 2 * c, 3)];
        let mut convs = Vec::new();
        {
            let mut cs = s.sub("convs");
            for (i, &(ci, co, k)) in chans.iter().enumerate() {
                convs.push(Conv2d::new(
                    &mut cs,
                    &i.to_string(),
                    ConvSpec::new(ci, co, k).stride(2),
                )?);
            }
        }
        let mut bns = Vec::new();
        {
            let mut bs = s.sub("bns");
            for (i, &(_, co, _)) in chans.iter().enumerate() {
                bns.push(BatchNorm::new(&mut bs, &i.to_string(), co, 1e-5)?);
            }
        }
        let a = s.sub("act");
        let acts = (0..4)
            .map(|i| Act::new(&a, &i.to_string(), ActKind::Relu))
            .collect();
        let softmax = Act::new(&s, "softmax", ActKind::Softmax);
        Ok(Spa {
            name: s.path(),
            c,
            convs,
            bns,
            acts,
            softmax,
        })
    }
}

impl Module for Spa {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &'static str {
        "spa"
    }
    fn forward(&self, x: &Tensor, pass: &mut Pass) -> Result<Tensor> {
        let mut h = x.clone();
        for i in 0..4 {
            h = call(&self.convs[i], &h, pass)?;
            h = batch_norm_act(&self.bns[i], &self.acts[i], &h, None, pass)?;
        }
        let (b, ch, _, _) = h.dims4()?;
        let h = h.reshape((b, ch, ()))?;
        product_attention(&h, self.c, &self.softmax, pass)
    }
    fn emit(&self, e: &mut Emitter, x: &str) -> crate::Result<String> {
        let convs: Vec<&dyn Module> = self.convs.iter().map(|c| c as &dyn Module).collect();
        let h = emit_units(e, x, &convs, &self.bns, &self.acts)?;
        let shape = e.ints(&[0, 0, -1]);
        let h = e.op(&self.name, Op::Reshape { allowzero: false }, vec![h, shape]);
        emit_product_attention(e, &self.name, &h, self.c, &self.softmax)
    }
    fn children(&self) -> Vec<&dyn Module> {
        let mut v: Vec<&dyn Module> = Vec::new();
        for i in 0..4 {
            v.push(&self.convs[i]);
            v.push(&self.bns[i]);
            v.push(&self.acts[i]);
        }
        v.push(&self.softmax);
        v
    }
}
