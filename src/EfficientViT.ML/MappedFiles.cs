namespace EfficientViT.ML;

/// <summary>The files mapped into this process (Linux, from /proc/self/maps): which native libraries it has loaded, and from where.</summary>
internal static class MappedFiles
{
    private const string Maps = "/proc/self/maps";

    /// <summary>Whether the list can be read (Linux).</summary>
    public static bool Readable => OperatingSystem.IsLinux() && File.Exists(Maps);

    /// <summary>The path of each mapping of a file, in address order (a file mapped in several parts appears once per part); none where not <see cref="Readable"/>.</summary>
    public static IEnumerable<string> Paths()
    {
        if (!Readable)
            yield break;
        foreach (var line in File.ReadLines(Maps))
        {
            // The path is the last field and the only one that starts with '/'.
            var slash = line.IndexOf('/');
            if (slash >= 0)
                yield return line[slash..];
        }
    }
}
