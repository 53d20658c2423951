//! Exploration of GAX settings (not a test).
use candle_core::{DType, Tensor};
use gaxsh::ax::{SweepOptions, ax_sweep};
use gaxsh::gax::{GaxOptions, gax};
use gaxsh::nn::Arch;

fn main() {
    let which = std::env::args().nth(1).unwrap_or("drybean".into());
    gaxsh::threads::init(Some(1));
    gaxsh::tensor::random::seed(0);
    let root = std::path::Path::new("data");
    if which == "mobilenet" {
        let size: usize = std::env::args()
            .nth(2)
            .map(|s| s.parse().unwrap())
            .unwrap_or(224);
        let net = Arch::MobileNetV1 { size }.build(DType::F32).unwrap();
        gaxsh::nn::weights::load_into(
            &net,
            &root.join("weights/mobilenet_v1_0.25_224/mobilenet_v1_0.25_224.safetensors"),
            &Default::default(),
        )
        .unwrap();
        let spec = gaxsh::data::images::ImageSpec {
            channels: 3,
            size: Some((size, size)),
            gray: gaxsh::data::images::Gray::Mean,
        };
        let names = [
            "owl.jpg",
            "parrot.jpg",
            "hot_dog.jpg",
            "cat.png",
            "bird.png",
            "dragonfly.png",
            "grace_hopper.png",
            "sunflower.png",
        ];
        let mut xs = Vec::new();
        for n in names {
            let (v, h, w) =
                gaxsh::data::images::decode(&root.join("images").join(n), &spec).unwrap();
            let t = Tensor::from_vec(v, (3, h, w), &candle_core::Device::Cpu).unwrap();
            xs.push(
                ((t * 2.0).unwrap() - 1.0)
                    .unwrap()
                    .to_dtype(DType::F32)
                    .unwrap(),
            );
        }
        let x = Tensor::stack(&xs, 0).unwrap();
        let pred = net.predict(&x, 8).unwrap();
        let ids: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        for (ls, abs) in [
            (100.0, Some(true)),
            (100.0, Some(false)),
            (0.0, None),
            (1.0, Some(true)),
        ] {
            let r = gax(
                &net,
                &x,
                &pred,
                &pred,
                &ids,
                &GaxOptions {
                    max_steps: 150,
                    similarity: ls,
                    abs_denominator: abs,
                    ..Default::default()
                },
            )
            .unwrap();
            println!("ls {ls} abs {abs:?}: {} ({:.1}s)", r.summary(), r.seconds);
            println!(
                "   co at step 0 {:?}",
                r.scores
                    .iter()
                    .map(|s| format!("{:.1}", s[0]))
                    .collect::<Vec<_>>()
            );
        }
        return;
    }
    use gaxsh::data::csv::{drybean_options, load_csv};
    use gaxsh::data::transform::Transform;
    use gaxsh::train::{TrainOptions, fit};
    let (net, test) = if which == "drybean" {
        let d = load_csv(
            &root.join("drybean/Dry_Bean_Dataset.csv"),
            &drybean_options(),
        )
        .unwrap();
        let t = Transform::standardize_from(&d.raw_x().unwrap(), &d.feature_names, 0.5).unwrap();
        let s = gaxsh::data::split::split_mod3(&d, false).unwrap();
        let net = Arch::DrybeanFpa.build(DType::F32).unwrap();
        fit(
            &net,
            &s.train.with_transform(t.clone()),
            Some(&s.val.with_transform(t.clone())),
            &TrainOptions {
                epochs: 20,
                target_val_acc: Some(0.85),
                ..Default::default()
            },
        )
        .unwrap();
        (net, s.test.with_transform(t))
    } else {
        let s = gaxsh::data::creditcard::from_bundled(&root.join("creditcard")).unwrap();
        let sc = gaxsh::data::creditcard::paper_scaling();
        let net = Arch::CcfFpa.build(DType::F32).unwrap();
        fit(
            &net,
            &s.train.with_transform(sc.clone()),
            Some(&s.val.with_transform(sc.clone())),
            &TrainOptions {
                epochs: 20,
                target_val_acc: Some(0.9),
                ..Default::default()
            },
        )
        .unwrap();
        (net, s.test.with_transform(sc))
    };
    let sel = gaxsh::data::split::first_n_correct(&test, &net, 100, 256).unwrap();
    let x = sel.x().unwrap();
    let table = ax_sweep(&net, &sel, &SweepOptions::default()).unwrap();
    let mut best = vec![f64::NEG_INFINITY; 100];
    for r in &table.rows {
        best[r.index] = best[r.index].max(r.co);
    }
    let mut b2 = best.clone();
    b2.sort_by(f64::total_cmp);
    println!("best method CO: median {:.3} max {:.3}", b2[50], b2[99]);
    let pred = net.predict(&x, 256).unwrap();
    for (ls, abs, steps) in [
        (100.0, Some(true), 100),
        (100.0, Some(false), 100),
        (10.0, Some(true), 100),
        (1.0, Some(true), 100),
        (0.0, None, 100),
        (100.0, Some(true), 500),
    ] {
        let r = gax(
            &net,
            &x,
            &pred,
            &sel.y,
            &sel.ids,
            &GaxOptions {
                target_co: 1e9,
                max_steps: steps,
                similarity: ls,
                abs_denominator: abs,
                ..Default::default()
            },
        )
        .unwrap();
        let wins = (0..100)
            .filter(|&i| r.scores[i].iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b)) > best[i])
            .count();
        let fin: Vec<f64> = r
            .scores
            .iter()
            .map(|s| s.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b)))
            .collect();
        let mut f2 = fin.clone();
        f2.sort_by(f64::total_cmp);
        println!(
            "ls {ls} abs {abs:?} steps {steps}: wins {wins}/100, max-CO median {:.3}, start median {:.3} ({:.1}s)",
            f2[50],
            {
                let mut s0: Vec<f64> = r.scores.iter().map(|s| s[0]).collect();
                s0.sort_by(f64::total_cmp);
                s0[50]
            },
            r.seconds
        );
    }
}
