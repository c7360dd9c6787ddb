using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using static TorchSharp.torch;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// The network a featurizer exports its graphs from: the model's architecture and its backbone weights,
/// copied to managed memory. Graphs are made when an input kind first needs them, and this copy lets that
/// happen after the caller's model is changed or disposed, without keeping a native model alive in an
/// estimator that nobody disposes.
/// </summary>
internal sealed class FeatureNetwork
{
    private readonly EfficientVitConfig config;
    private readonly Dictionary<string, byte[]> weights;

    /// <summary>Copies <paramref name="model"/>'s backbone (the classifier heads are not needed for features).</summary>
    public FeatureNetwork(EfficientVit model)
    {
        config = model.Config with { NumClasses = 0, Distillation = false };
        weights = model.state_dict()
            .Where(entry => !StateDictLoader.IsHeadKey(entry.Key))
            .ToDictionary(entry => entry.Key, entry => entry.Value.cpu().bytes.ToArray());
    }

    /// <summary>The architecture (without a head).</summary>
    public EfficientVitConfig Config => config;

    /// <summary>The ONNX graph that <see cref="EfficientVitOnnxExporter"/> writes with <paramref name="options"/>.</summary>
    public byte[] Export(OnnxExportOptions options) => WithModel(model => EfficientVitOnnxExporter.ToBytes(model, options));

    /// <summary>An int8 graph written with <paramref name="options"/>, calibrated and measured on <paramref name="inputs"/> (its input format).</summary>
    public Int8Quantization Quantize(OnnxExportOptions options, IReadOnlyList<float[]> inputs, Int8QualityOptions? quality, Action<string>? log) =>
        WithModel(model => Int8Quantizer.Quantize(model, inputs, options, quality: quality, log: log));

    private T WithModel<T>(Func<EfficientVit, T> use)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var model = new EfficientVit(config);
        foreach (var (key, tensor) in model.state_dict())
            tensor.bytes = weights[key];
        return use(model);
    }
}
