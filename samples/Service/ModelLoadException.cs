namespace EfficientViT.Service;

/// <summary>The model the service was given cannot be used; the message names the file and the reason.</summary>
public sealed class ModelLoadException(string message, Exception? inner = null) : Exception(message, inner);
