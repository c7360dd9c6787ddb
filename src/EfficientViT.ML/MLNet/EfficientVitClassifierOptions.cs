using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using EfficientViT.ML.Training;
using Microsoft.ML;

namespace EfficientViT.ML.MLNet;

/// <summary>Options of <see cref="Microsoft.ML.EfficientVitClassifierCatalog.EfficientVit(Microsoft.ML.MulticlassClassificationCatalog.MulticlassClassificationTrainers, EfficientVitClassifierOptions)"/>.</summary>
public sealed class EfficientVitClassifierOptions
{
    /// <summary>The label column: a key (use <c>MapValueToKey</c> first). Default "Label".</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>The image column (<c>MLImage</c>, from <c>LoadImages</c>). Default "Image".</summary>
    public string ImageColumnName { get; set; } = "Image";

    /// <summary>The class probabilities column to create. Default "Score".</summary>
    public string ScoreColumnName { get; set; } = "Score";

    /// <summary>The predicted label column to create (a key like the label). Default "PredictedLabel".</summary>
    public string PredictedLabelColumnName { get; set; } = "PredictedLabel";

    /// <summary>A checkpoint to fine-tune (official <c>.pth</c>, timm or own <c>.safetensors</c>, or a pretrained name such as <c>m0</c>, see <see cref="Checkpoints.Pretrained.EfficientVitPretrained"/>); its head is replaced. Null trains from scratch.</summary>
    public string? ModelPath { get; set; }

    /// <summary>The variant to train from scratch (ignored with <see cref="ModelPath"/>).</summary>
    public EfficientVitVariant Variant { get; set; } = EfficientVitVariant.M0;

    /// <summary>Input side; default the checkpoint's, or 224 from scratch.</summary>
    public int? ImageSize { get; set; }

    /// <summary>Training epochs.</summary>
    public int Epochs { get; set; } = 10;

    /// <summary>Images per optimizer step.</summary>
    public int BatchSize { get; set; } = 32;

    /// <summary>Peak learning rate; default 2e-3 from scratch, 5e-4 when fine-tuning.</summary>
    public double? LearningRate { get; set; }

    /// <summary>Train only the new head.</summary>
    public bool FreezeBackbone { get; set; }

    /// <summary>Backbone learning rate as a fraction of the head's when fine-tuning.</summary>
    public double BackboneLearningRateScale { get; set; } = 0.1;

    /// <summary>
    /// The smallest share of an image's area a random training crop keeps (crops cover this share to all of
    /// it, then are resized to the input side). 0.6 suits small data sets and small images; ImageNet
    /// training from scratch uses 0.08.
    /// </summary>
    public double MinCropScale { get; set; } = 0.6;

    /// <summary>Probability of erasing a random rectangle of a training image (0 turns it off).</summary>
    public double RandomErasing { get; set; }

    /// <summary>
    /// Seed of every random draw of the training: the new weights, the data order and the augmentations.
    /// Two fits with the same seed, data and threads give the same model.
    /// </summary>
    public int Seed { get; set; }

    /// <summary>Torch threads; null keeps libtorch's default (all cores).</summary>
    public int? Threads { get; set; }

    /// <summary>Folder for training checkpoints and metrics; null keeps nothing on disk.</summary>
    public string? OutputDirectory { get; set; }

    /// <summary>Receives a report after every step and at every epoch's end.</summary>
    public IProgress<TrainingProgress>? Progress { get; set; }

    /// <summary>Stops the training (after saving a checkpoint when <see cref="OutputDirectory"/> is set); <c>Fit</c> then throws <see cref="OperationCanceledException"/>.</summary>
    public CancellationToken CancellationToken { get; set; }

    /// <summary>
    /// <see cref="EfficientVitQuantization.Int8"/>: after training, the classifier's ONNX network is written
    /// in int8, with activation ranges calibrated on <see cref="CalibrationData"/> (see docs/guide/int8.md).
    /// Default <see cref="EfficientVitQuantization.None"/>.
    /// </summary>
    public EfficientVitQuantization Quantization { get; set; }

    /// <summary>
    /// With <see cref="EfficientVitQuantization.Int8"/>: a few hundred images in a column named
    /// <see cref="ImageColumnName"/> (<c>MLImage</c>, from <c>LoadImages</c>); labels are not read. Checked
    /// before training starts.
    /// </summary>
    public IDataView? CalibrationData { get; set; }

    /// <summary>
    /// With <see cref="EfficientVitQuantization.Int8"/>: what the int8 network must keep of the float32 one,
    /// measured on every fifth <see cref="CalibrationData"/> image, held out of the calibration (feature
    /// cosine; the top-1 agreement is reported too). Default (null): mean cosine ≥ 0.99 and lowest ≥ 0.95,
    /// repairs tried, and <c>Fit</c> throws an <see cref="Int8QualityException"/> giving the figures when
    /// nothing meets it. The figures are in the MLContext's log and in
    /// <see cref="EfficientVitClassifierTransformer.Int8Quality"/>.
    /// </summary>
    public Int8QualityOptions? Int8Quality { get; set; }

    /// <summary>A copy, so that the trainer neither changes the caller's object nor sees its later changes.</summary>
    internal EfficientVitClassifierOptions Copy() => (EfficientVitClassifierOptions)MemberwiseClone();

    /// <summary>The most pixels an input <c>MLImage</c> may have (the command-line tool's image reader's limit); lowered by tests.</summary>
    internal long MaxImagePixels { get; set; } = Data.StraightAlphaDecoder.MaxPixels;
}
