namespace EfficientViT.ML.Modeling;

/// <summary>A module holding a batch normalization that can be folded into its neighbouring linear map.</summary>
internal interface IFusable
{
    /// <summary>Folds the normalization into the linear map; afterwards the module computes the same function in eval mode with fewer operations.</summary>
    void FuseBatchNorm();
}
