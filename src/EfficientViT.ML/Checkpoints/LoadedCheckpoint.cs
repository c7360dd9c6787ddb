using EfficientViT.ML.Modeling;

namespace EfficientViT.ML.Checkpoints;

/// <summary>A model read from a checkpoint, with what the file says about it.</summary>
/// <param name="Model">The model, in eval mode, weights loaded.</param>
/// <param name="Metadata">Architecture, classes and preprocessing (ImageNet's for official and timm files).</param>
/// <param name="Format">Which kind of file it came from.</param>
public sealed record LoadedCheckpoint(EfficientVit Model, CheckpointMetadata Metadata, CheckpointFormat Format) : IDisposable
{
    /// <summary>Disposes the model.</summary>
    public void Dispose() => Model.Dispose();
}
