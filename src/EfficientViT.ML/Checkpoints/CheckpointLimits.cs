namespace EfficientViT.ML.Checkpoints;

/// <summary>Limits shared by the PyTorch and safetensors readers, so a hostile file is refused before it costs memory.</summary>
internal static class CheckpointLimits
{
    /// <summary>The most tensors a file may hold (EfficientViT-M5 has 699); each costs native memory even when empty.</summary>
    public const int MaxTensors = 100_000;

    /// <summary>The most dimensions a tensor may have (PyTorch's own kernels stop at 25).</summary>
    public const int MaxDimensions = 64;
}
