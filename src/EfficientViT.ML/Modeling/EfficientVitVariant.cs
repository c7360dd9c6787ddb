namespace EfficientViT.ML.Modeling;

/// <summary>The six EfficientViT variants of the paper, smallest to largest.</summary>
public enum EfficientVitVariant
{
    /// <summary>EfficientViT-M0: 2.3M parameters, 63.2% ImageNet top-1.</summary>
    M0,
    /// <summary>EfficientViT-M1: 3.0M parameters, 68.4% ImageNet top-1.</summary>
    M1,
    /// <summary>EfficientViT-M2: 4.2M parameters, 70.8% ImageNet top-1.</summary>
    M2,
    /// <summary>EfficientViT-M3: 6.9M parameters, 73.4% ImageNet top-1.</summary>
    M3,
    /// <summary>EfficientViT-M4: 8.8M parameters, 74.3% ImageNet top-1.</summary>
    M4,
    /// <summary>EfficientViT-M5: 12.4M parameters, 77.1% ImageNet top-1.</summary>
    M5,
}
