namespace EfficientViT.ML.Checkpoints;

/// <summary>The checkpoint file formats EfficientViT.ML reads.</summary>
public enum CheckpointFormat
{
    /// <summary>The official model zoo's <c>torch.save({'model': state_dict})</c> zip (<c>efficientvit_m0.pth</c>).</summary>
    OfficialPyTorch,
    /// <summary>timm's <c>efficientvit_m*.r224_in1k</c> safetensors with timm's names.</summary>
    TimmSafeTensors,
    /// <summary>This project's safetensors: official names plus <see cref="CheckpointMetadata"/>.</summary>
    EfficientVitSafeTensors,
}
