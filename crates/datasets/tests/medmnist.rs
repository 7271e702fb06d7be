//! MedMNIST `.npz` files: the embedded PneumoniaMNIST against its released split sizes and class
//! counts, files the tests write (grey and RGB, label layouts and types, stored and deflated
//! members), every defect a clear error, and damaged archives never a panic.

use std::io::Write;

use smallscale_datasets::medmnist::{MEDMNIST_ARRAYS, known_medmnist_classes};
use smallscale_datasets::npy::write_npy;
use smallscale_datasets::{MedMnist, medmnist_from_npz, medmnist_from_npz_bytes};
use zip::write::SimpleFileOptions;

/// A `.npz` archive of `(name, npy bytes)` members.
fn npz(members: &[(&str, Vec<u8>)], deflate: bool) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut out);
        let method = if deflate {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let options = SimpleFileOptions::default().compression_method(method);
        for (name, bytes) in members {
            w.start_file(format!("{name}.npy"), options).unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap();
    }
    out.into_inner()
}

/// Images `n x h x w [x c]` with pixel `value(image, channel, row, col)`, stored channel-last.
fn images(n: usize, h: usize, w: usize, c: Option<usize>) -> Vec<u8> {
    let channels = c.unwrap_or(1);
    let mut data = Vec::new();
    for i in 0..n {
        for y in 0..h {
            for x in 0..w {
                for ch in 0..channels {
                    data.push((i * 50 + ch * 10 + y * w + x) as u8);
                }
            }
        }
    }
    let mut shape = vec![n, h, w];
    shape.extend(c);
    write_npy(&shape, "|u1", &data)
}

fn labels_u8(values: &[u8]) -> Vec<u8> {
    write_npy(&[values.len(), 1], "|u1", values)
}

/// A valid grey file with 4 / 2 / 3 images of 2 x 3 pixels and 3 classes.
fn small_members() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("train_images", images(4, 2, 3, None)),
        ("train_labels", labels_u8(&[0, 1, 2, 1])),
        ("val_images", images(2, 2, 3, None)),
        ("val_labels", labels_u8(&[2, 0])),
        ("test_images", images(3, 2, 3, None)),
        ("test_labels", labels_u8(&[1, 1, 0])),
    ]
}

fn read(members: &[(&str, Vec<u8>)], name: &str) -> Result<MedMnist, String> {
    medmnist_from_npz_bytes(&npz(members, true), "t.npz", name).map_err(|e| e.to_string())
}

fn with(name: &str, bytes: Vec<u8>) -> Vec<(&'static str, Vec<u8>)> {
    small_members()
        .into_iter()
        .map(|(n, b)| {
            if n == name {
                (n, bytes.clone())
            } else {
                (n, b)
            }
        })
        .collect()
}

#[cfg(feature = "pneumoniamnist")]
#[test]
fn the_embedded_pneumoniamnist_has_the_released_splits_and_class_counts() {
    let data = smallscale_datasets::pneumoniamnist_embedded().unwrap();
    for (split, n, counts) in [
        (&data.train, 4708, [1214, 3494]),
        (&data.validation, 524, [135, 389]),
        (&data.test, 624, [234, 390]),
    ] {
        assert_eq!(split.len(), n);
        assert_eq!(split.class_counts(), counts);
        assert_eq!(
            split.shape(),
            smallscale_datasets::ImageShape::new(1, 28, 28)
        );
    }
    assert_eq!(data.train.class_names(), ["normal", "pneumonia"]);
    assert_eq!(data.name, "pneumoniamnist");
    // The same bytes read from a path give the same data set.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pneumoniamnist.npz");
    std::fs::write(&path, smallscale_pneumoniamnist::PNEUMONIAMNIST_NPZ).unwrap();
    assert_eq!(medmnist_from_npz(&path).unwrap(), data);
    // Not all images are equal (a reader that zero-filled would pass the counts).
    let first = data.train.image(0).unwrap();
    assert!((1..data.train.len()).any(|i| data.train.image(i).unwrap() != first));
    assert!(first.iter().any(|&p| p != first[0]));
}

#[test]
fn grey_and_rgb_files_keep_splits_and_pixels_with_any_label_layout() {
    // Grey, labels N x 1 uint8, deflated and stored members.
    for deflate in [true, false] {
        let bytes = npz(&small_members(), deflate);
        let d = medmnist_from_npz_bytes(&bytes, "t.npz", "mine").unwrap();
        assert_eq!((d.train.len(), d.validation.len(), d.test.len()), (4, 2, 3));
        assert_eq!(d.train.labels(), [0, 1, 2, 1]);
        assert_eq!(d.validation.labels(), [2, 0]);
        assert_eq!(d.test.num_classes(), 3); // 0..=max label for an unknown file
        assert_eq!(d.train.image(1).unwrap(), [50, 51, 52, 53, 54, 55]);
    }
    // RGB: stored channel-last, read channel-major.
    let mut members = small_members();
    for (name, bytes) in &mut members {
        if let Some(split) = name.strip_suffix("_images") {
            let n = match split {
                "train" => 4,
                "val" => 2,
                _ => 3,
            };
            *bytes = images(n, 2, 3, Some(3));
        }
    }
    let d = read(&members, "mine").unwrap();
    assert_eq!(
        d.train.shape(),
        smallscale_datasets::ImageShape::new(3, 2, 3)
    );
    // Image 1: pixel (y, x) of channel ch is 50 + 10 ch + 3 y + x.
    let img = d.train.image(1).unwrap();
    let want: Vec<u8> = (0..3)
        .flat_map(|ch| (0..6).map(move |p| (50 + 10 * ch + p) as u8))
        .collect();
    assert_eq!(img, want);
    // Labels as a flat int64 vector.
    let flat: Vec<u8> = [0i64, 1, 2, 1]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let d = read(&with("train_labels", write_npy(&[4], "<i8", &flat)), "mine").unwrap();
    assert_eq!(d.train.labels(), [0, 1, 2, 1]);
    // A known MedMNIST name decides the classes: BloodMNIST has 8.
    let d = read(&small_members(), "bloodmnist_64").unwrap();
    assert_eq!(d.train.num_classes(), 8);
    assert_eq!(known_medmnist_classes("BloodMNIST").map(|c| c.0), Some(8));
}

#[test]
fn every_defect_is_an_error_naming_the_file_and_array() {
    let check = |members: Vec<(&str, Vec<u8>)>, name: &str, wants: &[&str]| {
        let err = read(&members, name).unwrap_err();
        for w in wants {
            assert!(err.contains(w), "{err} lacks {w}");
        }
    };
    // A missing array lists what the archive holds.
    let missing: Vec<_> = small_members()
        .into_iter()
        .filter(|(n, _)| *n != "val_labels")
        .collect();
    check(
        missing,
        "mine",
        &["no array val_labels", "train_images.npy"],
    );
    // Splits whose images disagree.
    check(
        with("test_images", images(3, 3, 3, None)),
        "mine",
        &["t.npz:test_images", "train_images holds 1x2x3"],
    );
    // Image and label counts that differ.
    check(
        with("val_labels", labels_u8(&[0, 1, 2])),
        "mine",
        &["t.npz:val_labels", "3 labels", "2 images"],
    );
    // A label outside a known set's classes.
    check(
        small_members(),
        "pneumoniamnist",
        &["t.npz:train_labels", "label 2", "0..2"],
    );
    // Multi-label files are refused with the reason.
    check(
        with("train_labels", write_npy(&[4, 14], "|u1", &[0; 56])),
        "chestmnist",
        &["14 labels per image", "multi-label"],
    );
    // Negative labels.
    let neg: Vec<u8> = [0i64, -1, 2, 1]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    check(
        with("train_labels", write_npy(&[4, 1], "<i8", &neg)),
        "mine",
        &["label -1 of record 1"],
    );
    // Images that are not uint8, or not N x H x W [x 3].
    check(
        with("train_images", write_npy(&[4, 6], "|u1", &[0; 24])),
        "mine",
        &["t.npz:train_images", "N x H x W"],
    );
    check(
        with("train_images", write_npy(&[4, 2, 3], "<i2", &[0; 48])),
        "mine",
        &["uint8"],
    );
    // A truncated array inside a valid archive.
    let mut cut = images(4, 2, 3, None);
    cut.pop();
    check(with("train_images", cut), "mine", &["truncated"]);
    // Not a zip file, and a truncated archive.
    let e = medmnist_from_npz_bytes(b"not a zip", "t.npz", "mine").unwrap_err();
    assert!(e.to_string().contains("not a readable .npz"), "{e}");
    let whole = npz(&small_members(), true);
    let e = medmnist_from_npz_bytes(&whole[..whole.len() / 2], "t.npz", "mine").unwrap_err();
    assert!(e.to_string().contains("t.npz"), "{e}");
    // A missing file names the path.
    let e = medmnist_from_npz(std::path::Path::new("no/such/file.npz")).unwrap_err();
    assert!(e.to_string().contains("no/such/file.npz"), "{e}");
    assert_eq!(MEDMNIST_ARRAYS.len(), 6);
}

#[test]
fn damaged_archives_give_errors_never_panics() {
    let valid = npz(&small_members(), true);
    let n = smallscale_io::check_damaged_inputs(&valid, 3000, |bytes| {
        medmnist_from_npz_bytes(bytes, "t.npz", "mine").map(|_| ())
    })
    .unwrap();
    assert!(n > 0);
}

#[test]
#[ignore = "long fuzz run (1M damaged archives, about 5 s in a release build): cargo test --release -p smallscale-datasets --test medmnist -- --ignored"]
fn damaged_archives_give_errors_never_panics_long() {
    let valid = npz(&small_members(), true);
    let n = smallscale_io::check_damaged_inputs(&valid, 1_000_000, |bytes| {
        medmnist_from_npz_bytes(bytes, "t.npz", "mine").map(|_| ())
    })
    .unwrap();
    assert!(n > 0);
}
