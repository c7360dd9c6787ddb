namespace EfficientViT.ML.Prediction;

/// <summary>One of the most probable classes of an image.</summary>
/// <param name="Index">The class index (the classifier's output).</param>
/// <param name="Name">The class name: the checkpoint's, ImageNet-1k's for the official and timm weights, else <c>class N</c>.</param>
/// <param name="Probability">The softmax probability.</param>
public sealed record ClassPrediction(int Index, string Name, float Probability);
