namespace EfficientViT.ML.Data;

/// <summary>What a file-based data set does with image files that cannot be decoded.</summary>
public enum CorruptImagePolicy
{
    /// <summary>Keep every file; reading an unreadable one throws an <see cref="InvalidDataException"/> naming it.</summary>
    Fail,

    /// <summary>Decode every file once when loading, drop the unreadable ones and report each through the warning callback.</summary>
    Skip,
}
