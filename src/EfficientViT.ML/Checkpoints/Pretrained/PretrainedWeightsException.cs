namespace EfficientViT.ML.Checkpoints.Pretrained;

/// <summary>
/// Pretrained weights could not be found, downloaded or verified. The message is one line naming the weights, the
/// URL and what was wrong; the cache is as it was before the attempt.
/// </summary>
public sealed class PretrainedWeightsException : IOException
{
    /// <summary>Creates the exception; <paramref name="problem"/> is what went wrong, without the name and URL.</summary>
    /// <param name="name">The weights' name (or the value that was not a name).</param>
    /// <param name="url">The URL they were to come from, if any.</param>
    /// <param name="problem">What was wrong.</param>
    /// <param name="innerException">The lower-level error, if any.</param>
    public PretrainedWeightsException(string name, Uri? url, string problem, Exception? innerException = null)
        : base(OneLine(url is null ? $"{name}: {problem}" : $"{name} ({url}): {problem}"), innerException)
    {
        WeightsName = name;
        Url = url;
    }

    /// <summary>The weights' name.</summary>
    public string WeightsName { get; }

    /// <summary>The URL, when the problem concerns a download.</summary>
    public Uri? Url { get; }

    // Server messages and file names may hold line breaks; one line keeps "error: ..." a single line in a log.
    private static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
