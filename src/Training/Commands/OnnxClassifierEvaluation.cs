using EfficientViT.ML.Data;
using EfficientViT.ML.Preprocessing;
using EfficientViT.ML.Training;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace EfficientViT.Training.Commands;

/// <summary>
/// Accuracy of an exported ONNX classifier (float32 or int8) in ONNX Runtime, for <c>efficientvit eval --onnx</c>:
/// its <c>logits</c> output over the data, with the graph's own input format read from its metadata.
/// </summary>
internal sealed class OnnxClassifierEvaluation : IDisposable
{
    private const string LogitsOutput = "logits";
    private readonly InferenceSession session;
    private readonly string path;
    private readonly string inputName;
    private readonly bool normalizationInGraph;

    public OnnxClassifierEvaluation(string path)
    {
        this.path = path;
        if (!File.Exists(path))
            throw new ArgumentException($"--onnx '{path}' does not exist.");
        session = new InferenceSession(path);
        if (!session.OutputMetadata.ContainsKey(LogitsOutput))
        {
            var outputs = string.Join(", ", session.OutputMetadata.Keys.Select(k => $"'{k}'"));
            session.Dispose();
            throw new ArgumentException($"--onnx '{path}' has no '{LogitsOutput}' output (it has {outputs}): export it without --features-only.");
        }
        inputName = session.InputMetadata.Keys.First();
        var metadata = session.ModelMetadata.CustomMetadataMap;
        ImageSize = metadata.TryGetValue("efficientvit.input_size", out var size) ? int.Parse(size) : session.InputMetadata[inputName].Dimensions[^1];
        normalizationInGraph = metadata.TryGetValue("efficientvit.normalization_in_graph", out var normalization) && normalization == "true";
        Quantization = metadata.TryGetValue("efficientvit.quantization", out var quantization) ? quantization : "float32";
        Classes = session.OutputMetadata[LogitsOutput].Dimensions[^1];
    }

    /// <summary>The side of the graph's input.</summary>
    public int ImageSize { get; }

    /// <summary>The number of classes of the logits.</summary>
    public int Classes { get; }

    /// <summary>"float32", or the int8 description the exporter recorded.</summary>
    public string Quantization { get; }

    /// <summary>Top-1, top-5 and the confusion matrix over <paramref name="data"/>, preprocessed with <paramref name="preprocessing"/>.</summary>
    public ClassificationMetrics Evaluate(IImageDataset data, ImagePreprocessing preprocessing, int batchSize)
    {
        if (preprocessing.ImageSize != ImageSize)
            throw new ArgumentException($"--onnx '{path}' takes {ImageSize}x{ImageSize} images, but the preprocessing is for {preprocessing.ImageSize}x{preprocessing.ImageSize}.");
        if (Classes != data.ClassNames.Count)
            throw new ArgumentException($"--onnx '{path}' has {Classes} classes; the data has {data.ClassNames.Count} ({string.Join(", ", data.ClassNames.Take(10))}).");
        var metrics = new ClassificationMetrics(Classes);
        using var loader = new ImageBatchLoader(data, new ImageTransform(preprocessing, train: false), batchSize, shuffle: false, seed: 0);
        using var runOptions = new RunOptions();
        foreach (var batch in loader.Epoch(0))
        {
            using var scope = NewDisposeScope();
            using var owned = batch;
            var images = normalizationInGraph ? Pixels(batch.Images, preprocessing) : batch.Images;
            var values = images.contiguous().data<float>().ToArray();
            var count = (int)images.shape[0];
            using var input = OrtValue.CreateTensorValueFromMemory(values, [count, 3, ImageSize, ImageSize]);
            using var outputs = session.Run(runOptions, [inputName], [input], [LogitsOutput]);
            var logits = tensor(outputs[0].GetTensorDataAsSpan<float>().ToArray()).view(count, Classes);
            metrics.Add(logits, batch.Labels);
        }
        return metrics;
    }

    // The loader normalizes, (p/255 − mean)/std; a graph that normalizes itself wants p back.
    private static Tensor Pixels(Tensor normalized, ImagePreprocessing preprocessing) =>
        (normalized * tensor(preprocessing.Std).view(1, 3, 1, 1) + tensor(preprocessing.Mean).view(1, 3, 1, 1)) * 255f;

    public void Dispose() => session.Dispose();
}
