namespace EfficientViT.ML.Checkpoints;

/// <summary>What a file holds, recognised from its first bytes rather than its name.</summary>
internal enum CheckpointFileKind
{
    /// <summary>A file of 0 bytes.</summary>
    Empty,
    /// <summary>A zip: <c>torch.save</c>'s format since PyTorch 1.6 (or another zip, told apart later).</summary>
    TorchZip,
    /// <summary>A bare pickle: <c>torch.save</c>'s format before PyTorch 1.6.</summary>
    LegacyTorchPickle,
    /// <summary>An 8-byte header length followed by a JSON object.</summary>
    SafeTensors,
    /// <summary>None of the above.</summary>
    Unknown,
}

/// <summary>Recognises <see cref="CheckpointFileKind"/> from a file's first bytes.</summary>
internal static class CheckpointFileSignature
{
    /// <summary>How to turn a legacy file into one this library reads.</summary>
    public const string ResaveAdvice =
        "Only the zip format that torch.save writes since PyTorch 1.6 is supported; the legacy pre-1.6 torch.save format is not. " +
        "Re-save the file with a recent PyTorch: torch.save(torch.load('old.pth', map_location='cpu'), 'new.pth').";

    /// <summary>The kind of file <paramref name="head"/> (the file's first 9 bytes or fewer) starts.</summary>
    public static CheckpointFileKind Detect(ReadOnlySpan<byte> head)
    {
        if (head.IsEmpty)
            return CheckpointFileKind.Empty;
        // A zip starts with a local file header; an empty zip with its end record.
        if (head.StartsWith("PK\x03\x04"u8) || head.StartsWith("PK\x05\x06"u8))
            return CheckpointFileKind.TorchZip;
        // Pickle protocols 2 and later open with PROTO (0x80) and the version; legacy torch.save wrote protocol 2.
        if (head.Length >= 2 && head[0] == 0x80 && head[1] is >= 2 and <= 5)
            return CheckpointFileKind.LegacyTorchPickle;
        // safetensors: the JSON header starts right after its 8-byte length. Whether the length fits the file is
        // left to the reader, which says so precisely (a truncated file, say).
        if (head.Length >= 9 && head[8] == (byte)'{')
            return CheckpointFileKind.SafeTensors;
        return CheckpointFileKind.Unknown;
    }

    /// <summary>The kind of the file at <paramref name="path"/>.</summary>
    public static CheckpointFileKind Detect(string path, out byte[] head)
    {
        using FileStream stream = File.OpenRead(path);
        var buffer = new byte[9];
        int read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        head = buffer[..read];
        return Detect(head);
    }

    /// <summary>The one-line message for a file that is not a checkpoint of any supported kind.</summary>
    public static string Unrecognised(string path, byte[] head) =>
        $"{path}: unrecognised format: neither a PyTorch zip checkpoint (.pth) nor a safetensors file " +
        $"(it starts with the bytes {Convert.ToHexString(head[..Math.Min(head.Length, 8)])})";
}
