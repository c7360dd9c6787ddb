using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Checkpoints.Pretrained;
using EfficientViT.ML.Data;
using EfficientViT.ML.Modeling;
using static TorchSharp.torch;

namespace EfficientViT.ML.Prediction;

/// <summary>
/// The top classes of single image files under a checkpoint's classifier, with the checkpoint's own preprocessing
/// (ImageNet's evaluation crop for the official and timm weights).
/// </summary>
/// <example>
/// <code>
/// using var loaded = EfficientVitPretrained.Load("m0");
/// var predictor = new ImagePredictor(loaded);
/// foreach (var p in predictor.Predict("cat.jpg", top: 5))
///     Console.WriteLine($"{p.Probability:P1} {p.Name}");
/// </code>
/// </example>
public sealed class ImagePredictor
{
    private readonly EfficientVit model;
    private readonly ImageTransform transform;

    /// <summary>Predicts with <paramref name="loaded"/>'s model (not disposed here; it must outlive the predictor).</summary>
    /// <exception cref="ArgumentException">The model has no classifier.</exception>
    public ImagePredictor(LoadedCheckpoint loaded)
    {
        ArgumentNullException.ThrowIfNull(loaded);
        if (loaded.Metadata.NumClasses <= 0)
            throw new ArgumentException("The checkpoint has no classifier: it gives features only, not classes.", nameof(loaded));
        model = loaded.Model;
        transform = new ImageTransform(loaded.Metadata.Preprocessing, train: false);
        ClassNames = ClassNamesOf(loaded.Metadata);
    }

    /// <summary>The names of the classifier's outputs, by index.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>
    /// The checkpoint's class names; for a 1000-class checkpoint that records none (the official and timm files),
    /// ImageNet-1k's; else <c>class 0</c>, <c>class 1</c>, ….
    /// </summary>
    public static IReadOnlyList<string> ClassNamesOf(CheckpointMetadata metadata)
    {
        if (metadata.ClassNames is { } names)
            return names;
        if (metadata.NumClasses == ImageNetClasses.Names.Count)
            return ImageNetClasses.Names;
        return Enumerable.Range(0, metadata.NumClasses).Select(i => $"class {i}").ToArray();
    }

    /// <summary>Whether the file name has one of the image extensions read here (.jpg, .jpeg, .png, .bmp, .webp; any case).</summary>
    public static bool IsImageFile(string path) => ImageFiles.IsImageFile(path);

    /// <summary>The <paramref name="top"/> most probable classes of the image file at <paramref name="path"/>, most probable first.</summary>
    /// <exception cref="InvalidDataException">The file is not a readable image; the message names it.</exception>
    public ClassPrediction[] Predict(string path, int top = 5)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(top, 1);
        var pixels = transform.Apply(ImageFiles.Decode(path, label: 0));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var side = transform.ImageSize;
        var logits = model.forward(tensor(pixels, [1, 3, side, side]));
        var probabilities = logits.softmax(1)[0];
        var (values, indices) = probabilities.topk(Math.Min(top, ClassNames.Count));
        var p = values.data<float>().ToArray();
        var i = indices.data<long>().ToArray();
        return p.Select((probability, k) => new ClassPrediction((int)i[k], ClassNames[(int)i[k]], probability)).ToArray();
    }
}
