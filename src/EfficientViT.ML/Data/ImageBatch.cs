using static TorchSharp.torch;

namespace EfficientViT.ML.Data;

/// <summary>One batch from an <see cref="ImageBatchLoader"/>. Disposing it disposes both tensors.</summary>
public sealed class ImageBatch : IDisposable
{
    internal ImageBatch(int batchIndex, int[] indices, Tensor images, Tensor labels)
    {
        BatchIndex = batchIndex;
        Indices = indices;
        Images = images;
        Labels = labels;
    }

    /// <summary>The batch's position in its epoch (0-based, counting skipped batches).</summary>
    public int BatchIndex { get; }

    /// <summary>The data set index of each sample, in batch order.</summary>
    public int[] Indices { get; }

    /// <summary>The number of samples.</summary>
    public int Count => Indices.Length;

    /// <summary>The transformed images: float32, B×3×S×S, on the CPU.</summary>
    public Tensor Images { get; }

    /// <summary>The labels: int64, B.</summary>
    public Tensor Labels { get; }

    /// <summary>Disposes both tensors (harmless if a dispose scope already did).</summary>
    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}
