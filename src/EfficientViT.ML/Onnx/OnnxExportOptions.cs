using EfficientViT.ML.Preprocessing;

namespace EfficientViT.ML.Onnx;

/// <summary>What <see cref="EfficientVitOnnxExporter"/> puts into the graph.</summary>
public sealed class OnnxExportOptions
{
    /// <summary>Name of the graph input. Default "input".</summary>
    public string InputName { get; set; } = EfficientVitOnnxExporter.DefaultInputName;

    /// <summary>Name of the pooled-features output. Default "features".</summary>
    public string FeaturesOutputName { get; set; } = EfficientVitOnnxExporter.DefaultFeaturesOutputName;

    /// <summary>Name of the logits output. Default "logits".</summary>
    public string LogitsOutputName { get; set; } = EfficientVitOnnxExporter.DefaultLogitsOutputName;

    /// <summary>With a head: also output the softmax probabilities under this name. Null: no probabilities output.</summary>
    public string? ProbabilitiesOutputName { get; set; }

    /// <summary>With a head and <see cref="ClassNames"/>: also output the predicted class name (a string) under this name.</summary>
    public string? PredictedClassOutputName { get; set; }

    /// <summary>Class names in output order, for <see cref="PredictedClassOutputName"/>.</summary>
    public IReadOnlyList<string>? ClassNames { get; set; }

    /// <summary>
    /// Outputs without the batch axis (features (width), probabilities (classes), predicted class a
    /// scalar), for one-image-per-call scoring such as ML.NET's <c>ApplyOnnxModel</c>, whose columns then
    /// get plain vector and scalar types. The input keeps its batch axis and must hold one image.
    /// </summary>
    public bool DropBatchAxis { get; set; }

    /// <summary>ONNX opset; 17 or newer. Default 17.</summary>
    public int Opset { get; set; } = 17;

    /// <summary>Also output the class logits (<c>logits</c>) when the model has a head. Default true.</summary>
    public bool IncludeLogits { get; set; } = true;

    /// <summary>
    /// Puts this preprocessing's normalization into the graph: the input is then RGB pixels in [0, 255], and
    /// the graph applies (x/255 − mean)/std per channel with its mean and std. Null (default): the input is
    /// already normalized. The exporter checks it (<see cref="ImagePreprocessing.Validate"/>).
    /// </summary>
    public ImagePreprocessing? Preprocessing { get; set; }

    /// <summary>
    /// With <see cref="Preprocessing"/>: the input already has 255·mean subtracted, and the graph only
    /// scales. The in-memory featurizer's resampling subtracts it, as exactly as the graph would.
    /// </summary>
    internal bool InputCentered { get; set; }

    /// <summary>
    /// Side of the (square) graph input when it is larger than the model's input size: the graph then
    /// center-crops it to the model's size first (e.g. 256 in, 224 to the model: the evaluation crop of
    /// the ImageNet weights). Null: the input has the model's size.
    /// </summary>
    public int? InputSize { get; set; }

    /// <summary>
    /// With <see cref="Preprocessing"/>: the (square) input of the model's size is upsampled to the
    /// preprocessing's <see cref="ImagePreprocessing.ResizeSize"/> as PIL resizes 8-bit images with the record's
    /// <see cref="ImagePreprocessing.Interpolation"/> (bicubic for a record without one; taps outside the image
    /// left out, fixed-point weights, columns first, each pass rounded to whole pixel values in [0, 255]), then
    /// center-cropped to the model's size: the evaluation
    /// transform "resize to 256, crop 224" done inside the graph, batched, for images already resized to
    /// the model's size (what ML.NET's <c>ResizeImages</c> gives). Default false: no resize.
    /// </summary>
    public bool ResizeInGraph { get; set; }

    /// <summary>
    /// Writes an int8 graph with these calibrated ranges and choices (see <see cref="OnnxInt8Options"/>);
    /// null (default): float32.
    /// </summary>
    public OnnxInt8Options? Int8 { get; set; }

    /// <summary>A copy of these options (the class names list is shared).</summary>
    internal OnnxExportOptions Copy() => (OnnxExportOptions)MemberwiseClone();
}
