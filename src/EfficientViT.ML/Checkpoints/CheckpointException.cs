namespace EfficientViT.ML.Checkpoints;

/// <summary>
/// Thrown when a checkpoint file (PyTorch zip, safetensors) cannot be read or written.
/// The message always names the file and the specific problem (key, shape, expected versus found),
/// so it can be shown to a user as is.
/// </summary>
public sealed class CheckpointException : Exception
{
    /// <summary>Creates the exception with a message that names the file and the problem.</summary>
    /// <param name="message">The message, naming the file and the problem.</param>
    public CheckpointException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the lower-level error that caused it.</summary>
    /// <param name="message">The message, naming the file and the problem.</param>
    /// <param name="innerException">The error that caused this one.</param>
    public CheckpointException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
