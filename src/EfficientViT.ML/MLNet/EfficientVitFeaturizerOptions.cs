using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using EfficientViT.ML.Preprocessing;
using Microsoft.ML;

namespace EfficientViT.ML.MLNet;

/// <summary>Options of <see cref="Microsoft.ML.EfficientVitCatalog.EfficientVitFeaturize(Microsoft.ML.TransformsCatalog, EfficientVitFeaturizerOptions)"/>.</summary>
public sealed class EfficientVitFeaturizerOptions
{
    /// <summary>The column of float vectors to create. Default "Features".</summary>
    public string OutputColumnName { get; set; } = "Features";

    /// <summary>
    /// The input column: images (<c>MLImage</c>, from <c>LoadImages</c>) or float vectors of 3·S·S
    /// already preprocessed pixels (channels-first RGB, normalized). Default "Image".
    /// </summary>
    public string InputColumnName { get; set; } = "Image";

    /// <summary>A checkpoint: the official <c>.pth</c>, timm's <c>.safetensors</c>, one written by this library, or a pretrained name (<c>m0</c> … <c>m5</c>, <see cref="Checkpoints.Pretrained.EfficientVitPretrained"/>). Either this or <see cref="Model"/>.</summary>
    public string? ModelPath { get; set; }

    /// <summary>An in-memory model (its weights are copied at construction; later changes to it are not seen). Either this or <see cref="ModelPath"/>.</summary>
    public EfficientVit? Model { get; set; }

    /// <summary>Normalization and crop to use instead of the checkpoint's (or ImageNet's for official and timm weights).</summary>
    public ImagePreprocessing? Preprocessing { get; set; }

    /// <summary>
    /// The input side the model runs at, a multiple of 16. Null: the checkpoint's (its recorded size, else
    /// the size its attention bias tables were made for), or <see cref="Preprocessing"/>'s when set. Another
    /// size resamples the attention bias tables whose window changes (<see cref="BiasResampling"/>); images
    /// are resized to it, and a float-vector input must hold 3·S·S values.
    /// </summary>
    public int? ImageSize { get; set; }

    /// <summary>How attention bias tables are fitted to another <see cref="ImageSize"/>. Default: interpolated, as timm does.</summary>
    public AttentionBiasResampling BiasResampling { get; set; } = AttentionBiasResampling.Interpolate;

    /// <summary>Images scored together by ONNX Runtime during <c>Transform</c>. Default 16.</summary>
    public int BatchSize { get; set; } = 16;

    /// <summary>
    /// How many batches <c>Transform</c> scores at once, each in a one-thread ONNX Runtime session; null: one per core.
    /// </summary>
    public int? Threads { get; set; }

    /// <summary>
    /// <see cref="EfficientVitQuantization.Int8"/> makes <c>Fit</c> calibrate an int8 network on
    /// <see cref="CalibrationData"/> and featurize (and save) with it. Default <see cref="EfficientVitQuantization.None"/>.
    /// </summary>
    /// <example>
    /// <code>
    /// var featurizer = mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions
    /// {
    ///     ModelPath = "efficientvit_m4.pth",
    ///     Quantization = EfficientVitQuantization.Int8,
    ///     CalibrationData = mlContext.Data.TakeRows(images, 300),   // the same "Image" column
    /// });
    /// </code>
    /// </example>
    public EfficientVitQuantization Quantization { get; set; }

    /// <summary>
    /// Images to measure the int8 activation ranges on (needed with <see cref="EfficientVitQuantization.Int8"/>):
    /// a few hundred of your own images, in a column named <see cref="InputColumnName"/> of the same type
    /// as the data the featurizer is fitted on. Every row is read once when the featurizer is fitted.
    /// </summary>
    public IDataView? CalibrationData { get; set; }

    /// <summary>
    /// With <see cref="EfficientVitQuantization.Int8"/>: what the int8 network must keep of the float32 one,
    /// measured on every fifth <see cref="CalibrationData"/> image, held out of the calibration. Default
    /// (null): mean feature cosine ≥ 0.99 and lowest ≥ 0.95, repairs tried, and <c>Fit</c> throws an
    /// <see cref="Int8QualityException"/> giving the figures when nothing meets it. The figures are in the
    /// MLContext's log and in <see cref="EfficientVitFeaturizerTransformer.Int8Quality"/>.
    /// </summary>
    public Int8QualityOptions? Int8Quality { get; set; }

    /// <summary>
    /// The CUDA device every ONNX Runtime session of the featurizer runs on, its own and its ML.NET steps' (ML.NET's
    /// name). Null: the MLContext's <c>GpuDeviceId</c> (by default none: the CPU). Needs the application to reference
    /// Microsoft.ML.OnnxRuntime.Gpu instead of Microsoft.ML.OnnxRuntime (docs/guide/installation.md); GPU execution is untested.
    /// </summary>
    public int? GpuDeviceId { get; set; }

    /// <summary>
    /// When <see cref="GpuDeviceId"/> cannot be used: score on the CPU (true), or refuse with an error naming the
    /// device when the featurizer is made (false). Null: the MLContext's <c>FallbackToCpu</c> (by default false).
    /// </summary>
    public bool? FallbackToCpu { get; set; }

    /// <summary>The most pixels an input <c>MLImage</c> may have (the command-line tool's image reader's limit); lowered by tests.</summary>
    internal long MaxImagePixels { get; set; } = Data.StraightAlphaDecoder.MaxPixels;

    /// <summary>A copy, so that later changes to the caller's object do not reach a featurizer already made.</summary>
    internal EfficientVitFeaturizerOptions Copy() => (EfficientVitFeaturizerOptions)MemberwiseClone();
}
