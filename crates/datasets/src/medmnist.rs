//! MedMNIST data sets in their own `.npz` layout: `train_images`, `train_labels`, `val_images`,
//! `val_labels`, `test_images` and `test_labels`, images `N x H x W` (grey) or `N x H x W x 3`
//! (RGB) `uint8`, labels `N x 1` integers. The three splits are kept as released (no re-splitting).
//!
//! Reading is strict: a missing array, splits whose images disagree in shape, image and label
//! counts that differ, a label outside the data set's classes, a multi-label file (ChestMNIST) and a
//! truncated or corrupt archive are errors that name the file and the array.

use std::io::Read;
use std::path::Path;

use crate::errors::{DatasetError, Result};
use crate::image::{ImageDataset, ImageShape};
use crate::npy::{NpyArray, NpyValues, parse_npy};

/// The arrays of a MedMNIST `.npz` file, in the order train, validation, test (images, labels).
pub const MEDMNIST_ARRAYS: [&str; 6] = [
    "train_images",
    "train_labels",
    "val_images",
    "val_labels",
    "test_images",
    "test_labels",
];

/// The single-label 2-D MedMNIST v2 data sets: name, number of classes, and class names where
/// the file's documentation gives them. ChestMNIST (multi-label) is not among them.
pub const MEDMNIST_DATASETS: [(&str, usize, Option<&[&str]>); 11] = [
    ("pathmnist", 9, None),
    ("dermamnist", 7, None),
    ("octmnist", 4, None),
    ("pneumoniamnist", 2, Some(&["normal", "pneumonia"])),
    ("retinamnist", 5, None),
    ("breastmnist", 2, None),
    ("bloodmnist", 8, None),
    ("tissuemnist", 8, None),
    ("organamnist", 11, None),
    ("organcmnist", 11, None),
    ("organsmnist", 11, None),
];

/// The most classes inferred from the labels of a file that is not a known MedMNIST set.
pub const MAX_INFERRED_CLASSES: usize = 1000;

/// The largest array a `.npz` member may decompress to (4 GiB; MedMNIST's largest 224x224 RGB
/// training split is about 3.6 GB).
pub const MAX_MEMBER_BYTES: u64 = 4 << 30;

/// The three released splits of a MedMNIST data set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MedMnist {
    /// The data set's name from the file name (`pneumoniamnist`, `dermamnist_64`, ...).
    pub name: String,
    /// The training split.
    pub train: ImageDataset,
    /// The released validation split.
    pub validation: ImageDataset,
    /// The released test split.
    pub test: ImageDataset,
}

fn corrupt(file: &str, detail: impl Into<String>) -> DatasetError {
    DatasetError::CorruptArchive {
        file: file.to_string(),
        detail: detail.into(),
    }
}

/// PneumoniaMNIST, embedded (feature `pneumoniamnist`, on by default): train 4,708, validation
/// 524 and test 624 grey 28x28 images, classes `normal` and `pneumonia`, the released splits.
///
/// ```
/// let data = smallscale_datasets::pneumoniamnist_embedded()?;
/// assert_eq!((data.train.len(), data.validation.len(), data.test.len()), (4708, 524, 624));
/// assert_eq!(data.train.class_names(), ["normal", "pneumonia"]);
/// # Ok::<(), smallscale_datasets::DatasetError>(())
/// ```
#[cfg(feature = "pneumoniamnist")]
pub fn pneumoniamnist_embedded() -> Result<MedMnist> {
    medmnist_from_npz_bytes(
        smallscale_pneumoniamnist::PNEUMONIAMNIST_NPZ,
        "embedded pneumoniamnist.npz",
        "pneumoniamnist",
    )
}

/// Reads a MedMNIST `.npz` file from disk.
///
/// # Errors
///
/// See the module documentation; every error names the file and, where it applies, the array.
pub fn medmnist_from_npz(path: &Path) -> Result<MedMnist> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| DatasetError::Io {
        file: file.clone(),
        source,
    })?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    medmnist_from_npz_bytes(&bytes, &file, &stem)
}

/// The number of classes and the class names of the data set called `name` (a file stem such as
/// `pneumoniamnist` or `dermamnist_128`), if it is a known single-label MedMNIST set.
///
/// ```
/// use smallscale_datasets::medmnist::known_medmnist_classes;
/// assert_eq!(known_medmnist_classes("pneumoniamnist_64").map(|c| c.0), Some(2));
/// assert_eq!(known_medmnist_classes("chestmnist"), None); // multi-label
/// ```
pub fn known_medmnist_classes(name: &str) -> Option<(usize, Vec<String>)> {
    let base = name
        .rsplit_once('_')
        .filter(|(_, size)| size.chars().all(|c| c.is_ascii_digit()))
        .map_or(name, |(base, _)| base)
        .to_ascii_lowercase();
    MEDMNIST_DATASETS
        .iter()
        .find(|(n, _, _)| *n == base)
        .map(|&(_, classes, names)| {
            let names = match names {
                Some(names) => names.iter().map(|n| n.to_string()).collect(),
                None => (0..classes).map(|c| format!("class {c}")).collect(),
            };
            (classes, names)
        })
}

/// Reads a MedMNIST `.npz` file held in memory; `file` names it in errors and `name` is the data
/// set's name (the file stem), which decides the number of classes of a known MedMNIST set. For
/// other files the classes are `0..=max label`.
pub fn medmnist_from_npz_bytes(bytes: &[u8], file: &str, name: &str) -> Result<MedMnist> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| {
        corrupt(
            file,
            format!("not a readable .npz (zip) archive ({e}); the file is truncated or is not a MedMNIST file"),
        )
    })?;
    let present: Vec<String> = archive
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .collect();
    let mut arrays = Vec::with_capacity(MEDMNIST_ARRAYS.len());
    for key in MEDMNIST_ARRAYS {
        let member = format!("{key}.npy");
        let label = format!("{file}:{key}");
        let mut entry = archive.by_name(&member).map_err(|e| match e {
            zip::result::ZipError::FileNotFound => DatasetError::MissingArray {
                file: file.to_string(),
                array: key,
                present: present.join(", "),
            },
            other => corrupt(&label, other.to_string()),
        })?;
        let declared = entry.size();
        if declared > MAX_MEMBER_BYTES {
            return Err(corrupt(
                &label,
                format!(
                    "the archive declares {declared} bytes for this array, more than the {MAX_MEMBER_BYTES} a MedMNIST file holds"
                ),
            ));
        }
        let mut data = Vec::new();
        (&mut entry)
            .take(declared.saturating_add(1))
            .read_to_end(&mut data)
            .map_err(|e| corrupt(&label, format!("cannot decompress the array ({e})")))?;
        if data.len() as u64 != declared {
            return Err(corrupt(
                &label,
                format!(
                    "the archive declares {declared} bytes but the array decompresses to {}",
                    data.len()
                ),
            ));
        }
        arrays.push(parse_npy(&data, &label)?);
    }
    let mut it = arrays.into_iter();
    let mut next = || it.next().expect("six arrays were read");
    let splits = [
        ("train", next(), next()),
        ("val", next(), next()),
        ("test", next(), next()),
    ];
    let shape = image_shape(file, &splits[0].1, "train_images")?;
    let mut labels_of = Vec::with_capacity(3);
    for (split, images, labels) in &splits {
        let key = format!("{split}_images");
        let this = image_shape(file, images, &key)?;
        if this != shape {
            return Err(DatasetError::WrongDimensions {
                file: format!("{file}:{key}"),
                detail: format!(
                    "images of {}x{}x{} (channels x height x width), but train_images holds {}x{}x{}",
                    this.channels,
                    this.height,
                    this.width,
                    shape.channels,
                    shape.height,
                    shape.width
                ),
            });
        }
        labels_of.push(label_values(file, split, images.shape[0], labels)?);
    }
    let (classes, names) = match known_medmnist_classes(name) {
        Some(known) => known,
        None => {
            let max = labels_of.iter().flatten().copied().max().unwrap_or(0) as usize;
            if max >= MAX_INFERRED_CLASSES {
                return Err(DatasetError::Unsupported {
                    file: file.to_string(),
                    detail: format!(
                        "the largest label is {max}, so the labels would make {} classes; MedMNIST sets have at most 11 (is a label corrupt, or are the labels not class indices?)",
                        max + 1
                    ),
                });
            }
            let n = (max + 1).max(2);
            (n, (0..n).map(|c| format!("class {c}")).collect())
        }
    };
    let mut datasets = Vec::with_capacity(3);
    for ((split, images, _), labels) in splits.into_iter().zip(labels_of) {
        if let Some((index, &label)) = labels
            .iter()
            .enumerate()
            .find(|&(_, &l)| l as usize >= classes)
        {
            return Err(DatasetError::LabelOutOfRange {
                file: format!("{file}:{split}_labels"),
                index,
                label,
                num_classes: classes,
            });
        }
        let NpyValues::U8(pixels) = images.values else {
            return Err(DatasetError::Unsupported {
                file: format!("{file}:{split}_images"),
                detail: "images must be uint8 (as MedMNIST stores them)".into(),
            });
        };
        let pixels = channel_major(pixels, shape);
        datasets.push(ImageDataset::new(pixels, labels, shape, names.clone())?);
    }
    let mut it = datasets.into_iter();
    let (train, validation, test) = (
        it.next().expect("three splits"),
        it.next().expect("three splits"),
        it.next().expect("three splits"),
    );
    Ok(MedMnist {
        name: name.to_string(),
        train,
        validation,
        test,
    })
}

/// The image shape of an `N x H x W` or `N x H x W x C` `uint8` array.
fn image_shape(file: &str, images: &NpyArray, key: &str) -> Result<ImageShape> {
    let at = format!("{file}:{key}");
    if !matches!(images.values, NpyValues::U8(_)) {
        return Err(DatasetError::Unsupported {
            file: at,
            detail: "images must be uint8 (as MedMNIST stores them)".into(),
        });
    }
    let shape = match images.shape[..] {
        [_, h, w] => ImageShape::new(1, h, w),
        [_, h, w, c @ (1 | 3)] => ImageShape::new(c, h, w),
        _ => {
            return Err(DatasetError::WrongDimensions {
                file: at,
                detail: format!(
                    "shape {:?}; MedMNIST images are N x H x W (grey) or N x H x W x 3 (RGB)",
                    images.shape
                ),
            });
        }
    };
    if images.shape[0] == 0 || shape.height == 0 || shape.width == 0 {
        return Err(DatasetError::WrongDimensions {
            file: at,
            detail: format!(
                "shape {:?} has no images or an empty dimension",
                images.shape
            ),
        });
    }
    Ok(shape)
}

/// The labels of a split as class indices, checked against the number of images.
fn label_values(file: &str, split: &str, n_images: usize, labels: &NpyArray) -> Result<Vec<u32>> {
    let at = format!("{file}:{split}_labels");
    let n = match labels.shape[..] {
        [n] | [n, 1] => n,
        [_, k] => {
            return Err(DatasetError::Unsupported {
                file: at,
                detail: format!(
                    "{k} labels per image: this is a multi-label data set (like ChestMNIST); only single-label classification is read"
                ),
            });
        }
        _ => {
            return Err(DatasetError::WrongDimensions {
                file: at,
                detail: format!("labels of shape {:?}; expected N x 1", labels.shape),
            });
        }
    };
    if n != n_images {
        return Err(DatasetError::CountMismatch {
            images_file: format!("{file}:{split}_images"),
            labels_file: at,
            images: n_images,
            labels: n,
        });
    }
    let mut out = Vec::with_capacity(n);
    for index in 0..n {
        let value = labels.values.get(index).unwrap_or(-1);
        let Ok(label) = u32::try_from(value) else {
            return Err(DatasetError::Unsupported {
                file: at,
                detail: format!(
                    "label {value} of record {index} is negative or too large; labels are class indices 0, 1, ..."
                ),
            });
        };
        out.push(label);
    }
    Ok(out)
}

/// `N x H x W x C` (or `N x H x W`) pixels as `N x C x H x W`.
fn channel_major(pixels: Vec<u8>, shape: ImageShape) -> Vec<u8> {
    if shape.channels == 1 {
        return pixels;
    }
    let (c, plane) = (shape.channels, shape.plane_len());
    let mut out = vec![0u8; pixels.len()];
    for (image, src) in out
        .chunks_exact_mut(c * plane)
        .zip(pixels.chunks_exact(c * plane))
    {
        for (p, px) in src.chunks_exact(c).enumerate() {
            for (ch, &v) in px.iter().enumerate() {
                image[ch * plane + p] = v;
            }
        }
    }
    out
}
