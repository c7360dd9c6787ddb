using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Training;

/// <summary>
/// Any ONNX classifier as the teacher (for example a large CNN exported from PyTorch): its first input
/// takes the student's normalized batch (B, 3, S, S); its output named "logits" (this library's export)
/// or else its first output gives logits (B, classes). A graph with a fixed input side gets the batch resized to it
/// (bilinear), as the student's images may be smaller in the early epochs of a low-to-high resolution schedule.
/// </summary>
public sealed class OnnxTeacher : ITeacher
{
    private readonly InferenceSession session;
    private readonly string input;
    private readonly string output;
    private readonly int? inputSide;

    /// <summary>Opens <paramref name="onnxPath"/> with ONNX Runtime.</summary>
    public OnnxTeacher(string onnxPath, int? threads = null)
    {
        if (!File.Exists(onnxPath))
            throw new FileNotFoundException($"teacher model '{onnxPath}' not found.", onnxPath);
        using var options = new SessionOptions();
        if (threads is { } count)
            options.IntraOpNumThreads = count;
        session = new InferenceSession(onnxPath, options);
        input = session.InputMetadata.Keys.First();
        output = session.OutputMetadata.ContainsKey("logits") ? "logits" : session.OutputMetadata.Keys.First();
        var classes = session.OutputMetadata[output].Dimensions[^1];
        if (classes <= 0)
            throw new ArgumentException($"{onnxPath}: the teacher's output '{output}' has no fixed number of classes.", nameof(onnxPath));
        NumClasses = classes;
        var inputShape = session.InputMetadata[input].Dimensions;
        inputSide = inputShape.Length == 4 && inputShape[2] > 0 && inputShape[2] == inputShape[3] ? inputShape[2] : null;
    }

    /// <inheritdoc/>
    public int NumClasses { get; }

    /// <inheritdoc/>
    public Tensor Logits(Tensor images)
    {
        using var scope = NewDisposeScope();
        if (inputSide is { } side && images.shape[2] != side)
            images = nn.functional.interpolate(images, [side, side], mode: InterpolationMode.Bilinear, align_corners: false);
        var batch = images.contiguous();
        using var value = OrtValue.CreateTensorValueFromMemory(batch.data<float>().ToArray(), batch.shape);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, [input], [value], [output]);
        var shape = results[0].GetTensorTypeAndShape().Shape;
        return tensor(results[0].GetTensorDataAsSpan<float>().ToArray(), shape).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public void Dispose() => session.Dispose();
}
