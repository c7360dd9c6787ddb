namespace EfficientViT.ML.Training;

/// <summary>How gradients are clipped before each optimizer step.</summary>
public enum GradientClipMode
{
    /// <summary>No clipping.</summary>
    None,

    /// <summary>Scale all gradients together so that their global L2 norm is at most the clip value.</summary>
    Norm,

    /// <summary>
    /// Adaptive gradient clipping (AGC, Brock et al. 2021): each output unit's gradient norm is limited
    /// to the clip value times that unit's weight norm. The official EfficientViT recipe uses this with 0.02.
    /// </summary>
    Adaptive,
}
