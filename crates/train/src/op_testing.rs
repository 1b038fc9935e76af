//! The custom ops' tests compare each op with the same computation from candle's composed,
//! differentiable ops: values, and the gradients of `Σ output ⊙ weights`.

use candle_core::Tensor;

/// The largest absolute difference between two tensors of one shape.
pub(crate) fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    let d = (a - b).unwrap().abs().unwrap().max_all().unwrap();
    d.to_scalar::<f32>().unwrap()
}

/// Asserts that `ours` and `reference` agree within `tol`, and so do their gradients with
/// respect to each of `inputs` (the scalar being `Σ output ⊙ weights`).
pub(crate) fn assert_matches(
    ours: &Tensor,
    reference: &Tensor,
    weights: &Tensor,
    inputs: &[&Tensor],
    tol: f32,
) {
    assert!(max_diff(ours, reference) < tol, "values differ");
    let grads = |t: &Tensor| {
        (t * weights)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap()
    };
    let (got, want) = (grads(ours), grads(reference));
    for input in inputs {
        let d = max_diff(got.get(input).unwrap(), want.get(input).unwrap());
        assert!(d < tol, "gradient of {:?} differs by {d}", input.dims());
    }
}
