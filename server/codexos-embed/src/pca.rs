//! Principal component analysis for distillation: centre the rows, take the eigenvectors of their
//! covariance (cyclic Jacobi rotations, exact for a symmetric matrix of a few hundred columns) and
//! project onto the strongest ones. Centring also removes the direction every token vector shares,
//! which otherwise makes all static embeddings look alike.

/// Projects `rows` (row-major, `dim` columns) onto their `keep` principal components.
pub(crate) fn principal_components(rows: &[f32], dim: usize, keep: usize) -> Vec<f32> {
    let count = rows.len() / dim.max(1);
    if count == 0 {
        return Vec::new();
    }
    let mut mean = vec![0.0f64; dim];
    for row in rows.chunks_exact(dim) {
        mean.iter_mut()
            .zip(row)
            .for_each(|(m, &x)| *m += f64::from(x));
    }
    mean.iter_mut().for_each(|m| *m /= count as f64);
    let centred: Vec<f64> = rows
        .chunks_exact(dim)
        .flat_map(|row| row.iter().zip(&mean).map(|(&x, m)| f64::from(x) - m))
        .collect();

    let mut covariance = vec![0.0f64; dim * dim];
    for row in centred.chunks_exact(dim) {
        for (i, &xi) in row.iter().enumerate() {
            let target = &mut covariance[i * dim..i * dim + dim];
            target[i..]
                .iter_mut()
                .zip(&row[i..])
                .for_each(|(c, &xj)| *c += xi * xj);
        }
    }
    for i in 0..dim {
        for j in 0..i {
            covariance[i * dim + j] = covariance[j * dim + i];
        }
    }

    let (values, vectors) = symmetric_eigen(covariance, dim);
    let mut order: Vec<usize> = (0..dim).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    let components: Vec<usize> = order.into_iter().take(keep).collect();

    let mut projected = Vec::with_capacity(count * keep);
    for row in centred.chunks_exact(dim) {
        for &component in &components {
            let dot: f64 = row
                .iter()
                .enumerate()
                .map(|(i, &x)| x * vectors[i * dim + component])
                .sum();
            projected.push(dot as f32);
        }
    }
    projected
}

/// Eigenvalues and eigenvectors (column `k` of the row-major result) of a symmetric matrix.
fn symmetric_eigen(mut a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0.0f64; n * n];
    (0..n).for_each(|i| v[i * n + i] = 1.0);
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().max(f64::MIN_POSITIVE);
    for _sweep in 0..60 {
        let off_diagonal: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum();
        if off_diagonal <= scale * 1e-22 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() <= f64::MIN_POSITIVE {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_component_follows_the_direction_of_greatest_spread() {
        // Points spread along (1, 1) with a little noise along (1, -1).
        let rows: Vec<f32> = (0..50)
            .flat_map(|i| {
                let along = i as f32 - 25.0;
                let across = if i % 2 == 0 { 0.5 } else { -0.5 };
                [along + across, along - across]
            })
            .collect();
        let projected = principal_components(&rows, 2, 1);
        assert_eq!(projected.len(), 50);
        let spread = projected.iter().map(|x| x * x).sum::<f32>() / 50.0;
        // Variance along (1, 1)/√2 is 2 × var(along) ≈ 416.5; across it would be 0.5.
        assert!(
            spread > 400.0,
            "variance along the first component: {spread}"
        );
    }

    #[test]
    fn eigenvectors_diagonalise_a_symmetric_matrix() {
        let matrix = vec![4.0, 1.0, 2.0, 1.0, 3.0, 0.5, 2.0, 0.5, 5.0];
        let (values, vectors) = symmetric_eigen(matrix.clone(), 3);
        for k in 0..3 {
            for i in 0..3 {
                let product: f64 = (0..3).map(|j| matrix[i * 3 + j] * vectors[j * 3 + k]).sum();
                assert!((product - values[k] * vectors[i * 3 + k]).abs() < 1e-9);
            }
        }
    }
}
