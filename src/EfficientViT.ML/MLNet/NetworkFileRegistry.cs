using System.Collections.Concurrent;

namespace EfficientViT.ML.MLNet;

/// <summary>Paths of network files not deleted yet.</summary>
internal sealed class NetworkFileRegistry
{
    private readonly ConcurrentDictionary<string, byte> paths = new();

    /// <summary>A registry whose remaining files are deleted when the process exits normally.</summary>
    public static NetworkFileRegistry DeletedAtProcessExit()
    {
        var registry = new NetworkFileRegistry();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => registry.DeleteRemaining();
        return registry;
    }

    /// <summary>The paths not deleted yet.</summary>
    public IReadOnlyCollection<string> Remaining => paths.Keys.ToList();

    public void Add(string path) => paths[path] = 0;

    /// <summary>Deletes <paramref name="path"/> and forgets it; keeps it when the file is still in use.</summary>
    public void Delete(string path)
    {
        try
        {
            File.Delete(path);
            paths.TryRemove(path, out _);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Deletes every file not deleted yet.</summary>
    public void DeleteRemaining()
    {
        foreach (var path in paths.Keys)
            Delete(path);
    }
}
