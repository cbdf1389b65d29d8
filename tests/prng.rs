//! The PRNG: determinism, the key-reuse contract, independence of split and
//! folded keys, bit-exactness of `random_bits` against an independent ChaCha20
//! written here from the specification, the documented constructions of the
//! derived distributions, statistical checks with fixed keys, and stacks of keys.

use rjax::lax;
use rjax::numpy as jnp;
use rjax::random::{self, Key};
use rjax::{Array, DType};

// ---------------------------------------------------------------- ChaCha20, independently

const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574]; // "expand 32-byte k"

fn quarter(s: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(16);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(12);
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(8);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(7);
}

/// One ChaCha20 block (djb's layout): constants, 8 key words, a 64-bit block
/// counter in words 12-13, a 64-bit stream id in words 14-15; 10 double rounds;
/// the input state added at the end.
fn chacha_block(key: &[u32; 8], counter: u64, stream: u64) -> [u32; 16] {
    let mut input = [0u32; 16];
    input[..4].copy_from_slice(&SIGMA);
    input[4..12].copy_from_slice(key);
    input[12] = counter as u32;
    input[13] = (counter >> 32) as u32;
    input[14] = stream as u32;
    input[15] = (stream >> 32) as u32;
    let mut x = input;
    for _ in 0..10 {
        quarter(&mut x, 0, 4, 8, 12);
        quarter(&mut x, 1, 5, 9, 13);
        quarter(&mut x, 2, 6, 10, 14);
        quarter(&mut x, 3, 7, 11, 15);
        quarter(&mut x, 0, 5, 10, 15);
        quarter(&mut x, 1, 6, 11, 12);
        quarter(&mut x, 2, 7, 8, 13);
        quarter(&mut x, 3, 4, 9, 14);
    }
    std::array::from_fn(|i| x[i].wrapping_add(input[i]))
}

/// Keystream words `0..n`: word `j` is word `j % 16` of block `j / 16`.
fn keystream(key: &[u32; 8], stream: u64, n: usize) -> Vec<u32> {
    (0..n).map(|j| chacha_block(key, (j / 16) as u64, stream)[j % 16]).collect()
}

fn key_words(k: &Key) -> [u32; 8] {
    k.data().to_vec::<u32>().try_into().expect("a single key has 8 words")
}

fn stream_arr(id: u64) -> Array {
    Array::from_vec(vec![id as u32, (id >> 32) as u32], &[2])
}

fn from_key(w: [u32; 8]) -> Key {
    Key(Array::from_vec(w.to_vec(), &[8]))
}

#[test]
fn own_chacha_matches_rfc8439_block_function_vector() {
    // RFC 8439 2.3.2: key 00..1f, nonce 00:00:00:09:00:00:00:4a:00:00:00:00, counter 1.
    // In the 64/64 layout that is counter 1 | 0x09000000 << 32 and stream 0x4a000000.
    let key: [u32; 8] = std::array::from_fn(|i| u32::from_le_bytes(std::array::from_fn(|b| (4 * i + b) as u8)));
    let out = chacha_block(&key, 1 | 0x0900_0000 << 32, 0x4a00_0000);
    let want = [
        0xe4e7f110, 0x15593bd1, 0x1fdd0f50, 0xc47120a3, 0xc7f4d1c7, 0x0368c033, 0x9aaa2204, 0x4e6cd4c3, 0x466482d2,
        0x09aa9f07, 0x05d7c214, 0xa2028bd9, 0xd19c12b5, 0xb94e16de, 0xe883d0cb, 0x4e3c50a2,
    ];
    assert_eq!(out, want);
}

#[test]
fn random_bits_matches_the_rfc_all_zero_key_vector() {
    // RFC 8439 A.1, test vectors #1 and #2 (all-zero key and nonce, blocks 0 and 1)
    let block0 = [
        0xade0b876, 0x903df1a0, 0xe56a5d40, 0x28bd8653, 0xb819d2bd, 0x1aed8da0, 0xccef36a8, 0xc70d778b, 0x7c5941da,
        0x8d485751, 0x3fe02477, 0x374ad8b8, 0xf4b8436a, 0x1ca11815, 0x69b687c3, 0x8665eeb2,
    ];
    assert_eq!(chacha_block(&[0; 8], 0, 0), block0);
    let got = lax::random_bits(&Array::zeros(&[8], DType::U32), &stream_arr(0), &[18]).to_vec::<u32>();
    assert_eq!(got[..16], block0);
    assert_eq!(got[16..], [0xbee7079f, 0x7a385155]);
}

#[test]
fn random_bits_is_the_chacha20_keystream() {
    let keys: [[u32; 8]; 4] = [
        [0; 8],
        [1, 2, 3, 4, 5, 6, 7, 8],
        [0xdead_beef, 0x0123_4567, 0x89ab_cdef, 0xffff_ffff, 0, 0x8000_0000, 42, 0x7fff_ffff],
        [u32::MAX; 8],
    ];
    let streams = [0u64, 1, 5 << 32, 0xfedc_ba98_7654_3210, u64::MAX];
    // 147 words: nine blocks and a bit (crosses any 4-block buffering)
    let n = 16 * 9 + 3;
    for k in &keys {
        for &s in &streams {
            let got = lax::random_bits(&Array::from_vec(k.to_vec(), &[8]), &stream_arr(s), &[n]).to_vec::<u32>();
            assert_eq!(got, keystream(k, s, n), "key {k:x?} stream {s:#x}");
        }
    }
    // a multi-axis shape is the keystream in row-major order
    let k = keys[2];
    let got = lax::random_bits(&Array::from_vec(k.to_vec(), &[8]), &stream_arr(7), &[3, 5, 2]);
    assert_eq!(got.shape(), &[3, 5, 2]);
    assert_eq!(got.to_vec::<u32>(), keystream(&k, 7, 30));
    // a stack of keys with a stack of streams: row i uses key i on stream i
    let flat: Vec<u32> = keys.iter().flatten().copied().collect();
    let st: Vec<u32> = streams[..4].iter().flat_map(|&s| [s as u32, (s >> 32) as u32]).collect();
    let got = lax::random_bits(&Array::from_vec(flat, &[2, 2, 8]), &Array::from_vec(st, &[2, 2, 2]), &[20]);
    assert_eq!(got.shape(), &[2, 2, 20]);
    let want: Vec<u32> = (0..4).flat_map(|i| keystream(&keys[i], streams[i], 20)).collect();
    assert_eq!(got.to_vec::<u32>(), want);
}

#[test]
fn key_bits_split_and_fold_in_use_their_documented_streams() {
    // key(seed) = [lo, hi, 0, ...]; bits on stream 0, splits on stream 1 << 32,
    // fold_in(data) on stream data | 2 << 32
    let k = random::key(0x0000_0003_0000_0002);
    assert_eq!(key_words(&k), [2, 3, 0, 0, 0, 0, 0, 0]);
    let w = key_words(&k);
    assert_eq!(random::bits(&k, &[4, 10]).to_vec::<u32>(), keystream(&w, 0, 40));
    assert_eq!(random::split_stack(&k, 5).data().to_vec::<u32>(), keystream(&w, 1 << 32, 40));
    assert_eq!(random::fold_in(&k, 9).data().to_vec::<u32>(), keystream(&w, 9 | 2 << 32, 8));
    assert_eq!(random::fold_in(&k, u32::MAX).data().to_vec::<u32>(), keystream(&w, u32::MAX as u64 | 2 << 32, 8));
}

#[test]
fn uniform_normal_randint_permutation_follow_their_documented_construction() {
    let k = random::key(2024);
    let n = 257;
    let w = random::bits(&k, &[n]).to_vec::<u32>();
    let w2 = random::bits(&k, &[n, 2]).to_vec::<u32>();
    // f32: top 24 bits of one word; f64: 27 + 26 bits of two words
    let u32_ = random::uniform(&k, &[n], DType::F32, 0.0, 1.0).to_vec::<f32>();
    let u64_ = random::uniform(&k, &[n], DType::F64, 0.0, 1.0).to_vec::<f64>();
    for i in 0..n {
        assert_eq!(u32_[i], (w[i] >> 8) as f32 / (1u32 << 24) as f32, "f32 uniform {i}");
        let want = ((w2[2 * i] >> 5) as f64 * 2f64.powi(26) + (w2[2 * i + 1] >> 6) as f64) * 2f64.powi(-53);
        assert_eq!(u64_[i], want, "f64 uniform {i}");
    }
    // normal = sqrt(2) erf_inv(v), v = (2k + 1) / 2^b - 1 on (-1, 1); checked through libm's erf
    let z64 = random::normal(&k, &[n], DType::F64).to_vec::<f64>();
    let z32 = random::normal(&k, &[n], DType::F32).to_vec::<f32>();
    for i in 0..n {
        let kk = (w2[2 * i] >> 6) as f64 * 2f64.powi(26) + (w2[2 * i + 1] >> 6) as f64;
        let v = (2.0 * kk + 1.0) * 2f64.powi(-52) - 1.0;
        let back = libm::erf(z64[i] / std::f64::consts::SQRT_2);
        assert!((back - v).abs() < 1e-13, "f64 normal {i}: erf(z/sqrt2) = {back}, v = {v}");
        let v32 = (2.0 * (w[i] >> 9) as f64 + 1.0) * 2f64.powi(-23) - 1.0;
        let back = libm::erf(z32[i] as f64 / std::f64::consts::SQRT_2);
        assert!((back - v32).abs() < 2e-6, "f32 normal {i}: erf(z/sqrt2) = {back}, v = {v32}");
    }
    // bernoulli = (f32 uniform < p)
    for p in [0.0, 0.3, 0.5, 1.0 / 3.0, 1.0] {
        let b = random::bernoulli(&k, p, &[n]).to_vec::<bool>();
        assert_eq!(b, u32_.iter().map(|&u| u < p as f32).collect::<Vec<_>>(), "bernoulli({p})");
    }
    // truncated_normal: erf(z / sqrt2) = a + (b - a) (v + 1) / 2 with the f64 v above
    let (lower, upper) = (-0.7, 1.9);
    let (a, b) = (libm::erf(lower / std::f64::consts::SQRT_2), libm::erf(upper / std::f64::consts::SQRT_2));
    let t = random::truncated_normal(&k, lower, upper, &[n], DType::F64).to_vec::<f64>();
    for i in 0..n {
        let kk = (w2[2 * i] >> 6) as f64 * 2f64.powi(26) + (w2[2 * i + 1] >> 6) as f64;
        let u = a + (b - a) * ((2.0 * kk + 1.0) * 2f64.powi(-52)) / 2.0;
        let back = libm::erf(t[i] / std::f64::consts::SQRT_2);
        assert!((back - u).abs() < 1e-13, "truncated_normal {i}: erf(z/sqrt2) = {back}, u = {u}");
    }
    // randint = lo + word mod (hi - lo)
    for (lo, hi) in [(-5, 5), (0, 7), (i32::MIN, i32::MAX), (-1_000_000, 3)] {
        let r = random::randint(&k, &[n], lo, hi).to_vec::<i32>();
        let range = (hi as i64 - lo as i64) as u64;
        let want: Vec<i32> = w.iter().map(|&x| (lo as i64 + (x as u64 % range) as i64) as i32).collect();
        assert_eq!(r, want, "randint [{lo}, {hi})");
    }
    // permutation = stable argsort of the f64 uniforms
    let p = random::permutation(&k, n).to_vec::<i32>();
    let mut idx: Vec<i32> = (0..n as i32).collect();
    idx.sort_by(|&a, &b| u64_[a as usize].total_cmp(&u64_[b as usize]));
    assert_eq!(p, idx);
}

// ---------------------------------------------------------------- determinism and keys

/// Every sampler, drawn from `k`.
fn all_draws(k: &Key) -> Vec<Array> {
    let mut v = vec![random::bits(k, &[33]), random::bernoulli(k, 0.3, &[33]), random::randint(k, &[33], -7, 100)];
    v.push(random::permutation(k, 33));
    for dt in [DType::F32, DType::F64] {
        v.push(random::uniform(k, &[3, 11], dt, -2.0, 5.0));
        v.push(random::normal(k, &[33], dt));
        v.push(random::truncated_normal(k, -1.5, 0.5, &[33], dt));
    }
    v
}

#[test]
fn same_key_same_numbers_every_time() {
    let a = all_draws(&random::key(123));
    let b = all_draws(&random::key(123));
    let c = all_draws(&from_key(key_words(&random::key(123))));
    assert_eq!(a, b);
    assert_eq!(a, c);
    let d = all_draws(&random::key(124));
    for (x, y) in a.iter().zip(&d) {
        assert_ne!(x, y, "a different key gives different numbers");
    }
}

/// The contract (as in JAX): a key is a value, not a stateful generator.
/// Drawing twice from the same key returns the same numbers, and different
/// samplers on one key read the same words; split the key for independence.
#[test]
fn reusing_a_key_reuses_its_numbers_by_contract() {
    let k = random::key(9);
    let x = random::uniform(&k, &[100], DType::F32, 0.0, 1.0);
    let y = random::uniform(&k, &[100], DType::F32, 0.0, 1.0);
    assert_eq!(x, y, "no hidden state advances between calls");
    // the f32 uniforms and the raw bits of one key are the same words
    let b = random::bits(&k, &[100]).to_vec::<u32>();
    let xv = x.to_vec::<f32>();
    assert!(b.iter().zip(&xv).all(|(w, u)| (w >> 8) as f32 * 2f32.powi(-24) == *u));
    // a prefix of a longer draw is the shorter draw
    assert_eq!(random::bits(&k, &[200]).to_vec::<u32>()[..100], b);
    // splitting gives fresh numbers
    let [k1, k2] = random::split2(&k);
    assert_ne!(random::uniform(&k1, &[100], DType::F32, 0.0, 1.0), x);
    assert_ne!(random::uniform(&k1, &[100], DType::F32, 0.0, 1.0), random::uniform(&k2, &[100], DType::F32, 0.0, 1.0));
}

#[test]
fn split_keys_are_distinct_and_their_streams_differ() {
    let k = random::key(77);
    let ks = random::split(&k, 16);
    let mut firsts: Vec<Vec<u32>> = ks.iter().map(|k| random::bits(k, &[64]).to_vec::<u32>()).collect();
    firsts.push(random::bits(&k, &[64]).to_vec::<u32>());
    let mut words: Vec<Vec<u32>> = ks.iter().map(|k| k.data().to_vec::<u32>()).collect();
    words.push(k.data().to_vec::<u32>());
    for i in 0..firsts.len() {
        for j in 0..i {
            assert_ne!(words[i], words[j], "keys {i} and {j}");
            assert_ne!(firsts[i], firsts[j], "streams of keys {i} and {j}");
            let same = firsts[i].iter().zip(&firsts[j]).filter(|(a, b)| a == b).count();
            assert_eq!(same, 0, "keys {i} and {j} share {same} of 64 words at the same positions");
        }
    }
    // the ways of splitting agree with each other
    let [a, b] = random::split2(&k);
    let s = random::split_stack(&k, 2);
    assert_eq!(s.data().shape(), &[2, 8]);
    assert_eq!((a.data(), b.data()), (s.get(0).data(), s.get(1).data()));
    assert_eq!(random::split(&k, 2)[1].data(), b.data());
}

#[test]
fn fold_in_with_different_data_differs() {
    let k = random::key(5);
    let mut seen: Vec<Vec<u32>> = vec![k.data().to_vec::<u32>()];
    for d in [0u32, 1, 2, 3, 100, 1 << 31, u32::MAX] {
        let f = random::fold_in(&k, d).data().to_vec::<u32>();
        assert!(!seen.contains(&f), "fold_in({d}) repeats an earlier key");
        seen.push(f);
    }
    // the same data on different keys differs too; fold_in is deterministic
    assert_ne!(random::fold_in(&random::key(6), 3).data(), random::fold_in(&k, 3).data());
    assert_eq!(random::fold_in(&k, 3).data(), random::fold_in(&k, 3).data());
    assert_eq!(random::fold_in_array(&k, &Array::scalar(3u32)).data(), random::fold_in(&k, 3).data());
}

#[test]
fn split_fold_in_and_bits_read_distinct_streams() {
    let k = random::key(31337);
    let bits = random::bits(&k, &[64]).to_vec::<u32>();
    let split = random::split_stack(&k, 8).data().to_vec::<u32>();
    let fold0 = random::fold_in(&k, 0).data().to_vec::<u32>();
    assert_ne!(bits, split);
    assert_eq!(bits.iter().zip(&split).filter(|(a, b)| a == b).count(), 0);
    assert_ne!(fold0[..], bits[..8]);
    assert_ne!(fold0[..], split[..8]);
    // a split child is not the parent's own draw
    assert_ne!(random::split(&k, 1)[0].data().to_vec::<u32>()[..], bits[..8]);
}

// ---------------------------------------------------------------- distributions

const N: usize = 10_000;

/// Kolmogorov-Smirnov statistic of `xs` against `cdf`.
fn ks(mut xs: Vec<f64>, cdf: impl Fn(f64) -> f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len() as f64;
    xs.iter().enumerate().map(|(i, &x)| (cdf(x) - i as f64 / n).max((i + 1) as f64 / n - cdf(x))).fold(0.0, f64::max)
}

/// The 1% critical value of the KS statistic.
fn ks_crit(n: usize) -> f64 {
    1.63 / (n as f64).sqrt()
}

fn phi(x: f64) -> f64 {
    0.5 * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
}

fn to_f64(a: &Array) -> Vec<f64> {
    a.astype(DType::F64).to_vec::<f64>()
}

fn mean_var(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    (m, xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0))
}

#[test]
fn uniform_distribution() {
    for (dt, seed) in [(DType::F32, 1), (DType::F64, 2)] {
        let u = to_f64(&random::uniform(&random::key(seed), &[N], dt, 0.0, 1.0));
        assert!(u.iter().all(|v| (0.0..1.0).contains(v)), "{dt}: outside [0, 1)");
        let (m, v) = mean_var(&u);
        assert!((m - 0.5).abs() < 0.01, "{dt}: mean {m}");
        assert!((v - 1.0 / 12.0).abs() < 0.003, "{dt}: variance {v}");
        let d = ks(u, |x| x.clamp(0.0, 1.0));
        assert!(d < ks_crit(N), "{dt}: KS {d}");
        // scaled to [lo, hi)
        let s = to_f64(&random::uniform(&random::key(seed + 10), &[N], dt, -3.0, 5.0));
        assert!(s.iter().all(|v| (-3.0..5.0).contains(v)), "{dt}: outside [-3, 5)");
        let d = ks(s, |x| ((x + 3.0) / 8.0).clamp(0.0, 1.0));
        assert!(d < ks_crit(N), "{dt}: scaled KS {d}");
    }
}

#[test]
fn normal_distribution() {
    for (dt, seed) in [(DType::F32, 3), (DType::F64, 4)] {
        let z = to_f64(&random::normal(&random::key(seed), &[N], dt));
        assert!(z.iter().all(|v| v.is_finite()), "{dt}: non-finite value");
        let (m, v) = mean_var(&z);
        assert!(m.abs() < 0.04, "{dt}: mean {m}");
        assert!((v - 1.0).abs() < 0.05, "{dt}: variance {v}");
        let d = ks(z, phi);
        assert!(d < ks_crit(N), "{dt}: KS {d}");
    }
}

#[test]
fn truncated_normal_stays_in_bounds_and_has_the_truncated_law() {
    for dt in [DType::F32, DType::F64] {
        for (seed, lo, hi) in [(5u64, -2.0, 2.0), (6, 0.5, 3.0), (7, -1.0, -0.5), (8, 2.0, 4.0)] {
            let z = to_f64(&random::truncated_normal(&random::key(seed), lo, hi, &[N], dt));
            assert!(z.iter().all(|v| (lo..=hi).contains(v)), "{dt} [{lo}, {hi}]: out of bounds or NaN");
            let (pa, pb) = (phi(lo), phi(hi));
            let d = ks(z, |x| ((phi(x) - pa) / (pb - pa)).clamp(0.0, 1.0));
            assert!(d < ks_crit(N), "{dt} [{lo}, {hi}]: KS {d}");
        }
    }
}

#[test]
fn bernoulli_frequency() {
    for (p, seed) in [(0.3, 11u64), (0.5, 12), (0.9, 13)] {
        let b = random::bernoulli(&random::key(seed), p, &[N]);
        assert_eq!(b.dtype(), DType::Bool);
        let f = b.to_vec::<bool>().iter().filter(|&&x| x).count() as f64 / N as f64;
        assert!((f - p).abs() < 0.02, "p = {p}: frequency {f}");
    }
    assert!(random::bernoulli(&random::key(1), 0.0, &[1000]).to_vec::<bool>().iter().all(|&x| !x));
    assert!(random::bernoulli(&random::key(1), 1.0, &[1000]).to_vec::<bool>().iter().all(|&x| x));
}

#[test]
fn randint_range_and_uniformity() {
    let r = random::randint(&random::key(21), &[N], -5, 5);
    assert_eq!(r.dtype(), DType::I32);
    let r = r.to_vec::<i32>();
    assert!(r.iter().all(|v| (-5..5).contains(v)));
    let mut counts = [0f64; 10];
    r.iter().for_each(|&v| counts[(v + 5) as usize] += 1.0);
    let e = N as f64 / 10.0;
    let chi2: f64 = counts.iter().map(|c| (c - e) * (c - e) / e).sum();
    assert!(chi2 < 21.67, "chi-square {chi2} over 10 bins (1% critical value 21.67), counts {counts:?}");
    // extreme and tiny ranges
    let wide = random::randint(&random::key(22), &[N], i32::MIN, i32::MAX).to_vec::<i32>();
    assert!(wide.iter().all(|&v| v < i32::MAX));
    assert!(wide.iter().any(|&v| v < -1_000_000_000) && wide.iter().any(|&v| v > 1_000_000_000));
    let neg = random::randint(&random::key(23), &[1000], -3, -1).to_vec::<i32>();
    assert!(neg.iter().all(|v| [-3, -2].contains(v)) && neg.contains(&-3) && neg.contains(&-2));
    assert!(random::randint(&random::key(24), &[100], 5, 6).to_vec::<i32>().iter().all(|&v| v == 5));
}

#[test]
fn raw_bits_are_balanced() {
    let b = random::bits(&random::key(25), &[N]).to_vec::<u32>();
    for bit in 0..32 {
        let f = b.iter().filter(|&&w| w >> bit & 1 == 1).count() as f64 / N as f64;
        assert!((f - 0.5).abs() < 0.02, "bit {bit}: frequency {f}");
    }
}

#[test]
fn permutation_is_a_permutation() {
    for n in [1usize, 2, 10, 1000] {
        let p = random::permutation(&random::key(n as u64), n);
        assert_eq!((p.shape(), p.dtype()), (&[n][..], DType::I32));
        let mut v = p.to_vec::<i32>();
        v.sort();
        assert_eq!(v, (0..n as i32).collect::<Vec<_>>(), "n = {n}");
    }
    let a = random::permutation(&random::key(1), 1000).to_vec::<i32>();
    let b = random::permutation(&random::key(2), 1000).to_vec::<i32>();
    assert_ne!(a, b);
    assert_ne!(a, (0..1000).collect::<Vec<_>>());
    // about one fixed point is expected
    assert!(a.iter().enumerate().filter(|(i, v)| *i as i32 == **v).count() < 10);
}

// ---------------------------------------------------------------- stacks of keys

/// `f(stack)` must equal stacking `f(key_i)` over the keys of the stack.
#[track_caller]
fn check_stacked(what: &str, stack: &Key, f: &dyn Fn(&Key) -> Array) {
    let n = stack.batch_shape()[0];
    let outs: Vec<Array> = (0..n).map(|i| f(&stack.get(i))).collect();
    assert_eq!(f(stack), jnp::stack(&outs.iter().collect::<Vec<_>>(), 0), "{what}");
}

#[test]
fn stacked_keys_equal_per_key_draws() {
    let ks = random::split_stack(&random::key(40), 5);
    assert_eq!(ks.batch_shape(), &[5]);
    check_stacked("bits", &ks, &|k| random::bits(k, &[3, 4]));
    check_stacked("uniform f32", &ks, &|k| random::uniform(k, &[7], DType::F32, -1.0, 3.0));
    check_stacked("uniform f64", &ks, &|k| random::uniform(k, &[2, 3], DType::F64, 0.0, 1.0));
    check_stacked("normal f32", &ks, &|k| random::normal(k, &[6], DType::F32));
    check_stacked("normal f64", &ks, &|k| random::normal(k, &[6], DType::F64));
    check_stacked("truncated_normal", &ks, &|k| random::truncated_normal(k, -0.5, 1.5, &[6], DType::F64));
    check_stacked("bernoulli", &ks, &|k| random::bernoulli(k, 0.25, &[9]));
    check_stacked("randint", &ks, &|k| random::randint(k, &[9], -100, 17));
    check_stacked("permutation", &ks, &|k| random::permutation(k, 12));
    check_stacked("split_stack", &ks, &|k| random::split_stack(k, 3).0);
    check_stacked("fold_in", &ks, &|k| random::fold_in(k, 8).0);
    // a stack of stacks (batch shape [5, 3])
    let kss = random::split_stack(&ks, 3);
    assert_eq!(kss.batch_shape(), &[5, 3]);
    check_stacked("uniform on a [5, 3] stack", &kss, &|k| random::uniform(k, &[4], DType::F64, 0.0, 1.0));
    for i in 0..5 {
        assert_eq!(kss.get(i).data(), random::split_stack(&ks.get(i), 3).data());
    }
}

/// Traced, the samplers' constants (shift amounts, masks, offsets) are
/// broadcast scalars: a jitted program gets no array of the sample's size as
/// a captured constant (made on the host at every trace and held on the
/// device beside the program).
#[test]
fn traced_samplers_capture_no_full_arrays() {
    /// A sampler's name and a draw of it from a key.
    type Sampler = (&'static str, fn(&Key) -> Array);
    let samplers: [Sampler; 6] = [
        ("uniform f32", |k| random::uniform(k, &[64, 64], DType::F32, 0.0, 1.0)),
        ("uniform f64", |k| random::uniform(k, &[64, 64], DType::F64, 0.0, 1.0)),
        ("normal f32", |k| random::normal(k, &[64, 64], DType::F32)),
        ("normal f64", |k| random::normal(k, &[64, 64], DType::F64)),
        ("bernoulli", |k| random::bernoulli(k, 0.7, &[64, 64])),
        ("randint", |k| random::randint(k, &[64, 64], -5, 9)),
    ];
    for (name, f) in samplers {
        let g = rjax::make_graph(|k: &Array| f(&Key(k.clone())))(random::key(3).data());
        let big: Vec<_> =
            g.captures.iter().map(|(_, a)| a.shape().to_vec()).filter(|s| s.iter().product::<usize>() > 1).collect();
        assert!(big.is_empty(), "{name}: captured arrays of shapes {big:?}");
        // and the traced sampler draws what the eager one does
        let eager = f(&random::key(3));
        assert_eq!(rjax::core::eval_graph(&g, &[random::key(3).data().clone()])[0], eager, "{name}");
    }
}
