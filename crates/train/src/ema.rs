//! Exponential moving average of the weights (diffusers' `EMAModel`, with its warm-up
//! `decay_t = min(decay, (1 + t) / (10 + t))`), kept off the autodiff graph.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

/// The decay used at optimiser step `step` (0-based).
pub fn decay_at(decay: f64, step: u64) -> f64 {
    decay.min((1 + step) as f64 / (10 + step) as f64)
}

struct Collect(Vec<Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        let n = t.shape().num_elements();
        self.0.push(t.reshape([n]));
    }
}

struct Blend {
    sources: std::vec::IntoIter<Tensor<1>>,
    decay: f64,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let src = self.sources.next().expect("EMA and model have the same parameters");
        let decay = self.decay;
        param.map(|t| {
            let dims = t.dims();
            t * decay + src.reshape(dims) * (1.0 - decay)
        })
    }
}

/// `ema <- decay * ema + (1 - decay) * model` for every float parameter, in visiting order.
/// `model` is read through [`Module::valid`] (no gradients); both must have the same structure.
pub fn update<M: Module>(ema: M, model: &M, decay: f64) -> M {
    let mut collect = Collect(Vec::new());
    model.valid().visit(&mut collect);
    ema.map(&mut Blend { sources: collect.0.into_iter(), decay })
}
