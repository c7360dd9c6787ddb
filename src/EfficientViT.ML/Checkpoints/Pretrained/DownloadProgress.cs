namespace EfficientViT.ML.Checkpoints.Pretrained;

/// <summary>How far a download of pretrained weights is.</summary>
/// <param name="Name">The weights' name.</param>
/// <param name="Url">Where they come from (after redirects).</param>
/// <param name="BytesReceived">Bytes written so far.</param>
/// <param name="TotalBytes">The file's size when the server or the registry gives it.</param>
/// <param name="Completed">True once, when the file is complete and verified.</param>
public readonly record struct DownloadProgress(string Name, Uri Url, long BytesReceived, long? TotalBytes, bool Completed);
