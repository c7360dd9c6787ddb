namespace EfficientViT.Service.LoadTest;

/// <summary>A folder under the system temp folder, deleted at dispose.</summary>
public sealed class TemporaryFolder : IDisposable
{
    /// <summary>Creates the folder.</summary>
    public TemporaryFolder() => Directory.CreateDirectory(Path);

    /// <summary>The folder's path.</summary>
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "evit-service-" + Guid.NewGuid().ToString("N"));

    /// <summary>Deletes the folder and what it holds.</summary>
    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
