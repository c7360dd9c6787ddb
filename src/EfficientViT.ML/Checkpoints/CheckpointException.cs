namespace EfficientViT.ML.Checkpoints;

/// <summary>
/// Thrown when a checkpoint file (PyTorch zip, safetensors) cannot be read or written.
/// The message always names the file and the specific problem (key, shape, expected versus found),
/// on one line (control characters quoted from the file are escaped), so it can be shown to a user as is.
/// </summary>
public sealed class CheckpointException : Exception
{
    /// <summary>Creates the exception with a message that names the file and the problem.</summary>
    /// <param name="message">The message, naming the file and the problem.</param>
    public CheckpointException(string message)
        : base(OneLine(message))
    {
    }

    /// <summary>Creates the exception with a message and the lower-level error that caused it.</summary>
    /// <param name="message">The message, naming the file and the problem.</param>
    /// <param name="innerException">The error that caused this one.</param>
    public CheckpointException(string message, Exception innerException)
        : base(OneLine(message), innerException)
    {
    }

    // Messages quote names and text from the file, which may hold control characters; escaped, they cannot
    // break the message into lines that look like separate errors (or clear a terminal).
    private static string OneLine(string message)
    {
        if (!message.Any(char.IsControl))
            return message;
        var builder = new System.Text.StringBuilder(message.Length + 16);
        foreach (char c in message)
            builder.Append(char.IsControl(c) ? $"\\x{(int)c:x2}" : c);
        return builder.ToString();
    }
}
