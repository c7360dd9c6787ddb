namespace EfficientViT.ML.Data;

/// <summary>Which Fashion-MNIST file pair to read.</summary>
public enum FashionMnistSplit
{
    /// <summary>The 60,000 training images (train-*.gz).</summary>
    Train,

    /// <summary>The 10,000 test images (t10k-*.gz).</summary>
    Test,
}
