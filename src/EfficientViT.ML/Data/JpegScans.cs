namespace EfficientViT.ML.Data;

/// <summary>
/// Finds a JPEG scan that holds no image data. libjpeg, which SkiaSharp decodes JPEG with, takes a marker
/// where a scan's data should be as a warning only and fills the image with grey, and SkiaSharp reports that
/// decode as a success: a file of headers and an end marker would be scored as a grey image.
/// </summary>
/// <remarks>Also compiled into the image-classification service (samples/Service), which decodes uploads itself.</remarks>
internal static class JpegScans
{
    /// <summary>
    /// Why <paramref name="file"/> cannot be a complete JPEG, when one of its scans is followed at once by a marker
    /// (restart markers aside); null when each scan holds data, and for other files (the decoder judges those).
    /// </summary>
    public static string? FindEmptyScan(ReadOnlySpan<byte> file)
    {
        if (file.Length < 4 || file[0] != 0xFF || file[1] != 0xD8)
            return null;
        var position = 2;
        while (position + 4 <= file.Length)
        {
            if (file[position] != 0xFF)
                return null;
            var marker = file[position + 1];
            if (marker == 0xFF)
            {
                // A fill byte before a marker.
                position++;
                continue;
            }
            if (marker == 0xD9)
                return null;
            if (marker is 0x01 or (>= 0xD0 and <= 0xD7))
            {
                // Markers without a length.
                position += 2;
                continue;
            }
            var segmentEnd = position + 2 + ((file[position + 2] << 8) | file[position + 3]);
            if (segmentEnd > file.Length)
                return null;
            if (marker != 0xDA)
            {
                position = segmentEnd;
                continue;
            }
            var (dataBytes, next) = ScanData(file, segmentEnd);
            if (dataBytes == 0 && next < file.Length)
                return $"the JPEG's scan at byte {position:N0} holds no image data: a marker follows its header at once";
            position = next;
        }
        return null;
    }

    // The entropy-coded bytes after a scan header (a stuffed 0xFF 0x00 is one data byte; restart markers are
    // not data) and where the next marker starts, or the file's length when none follows.
    private static (long DataBytes, int Next) ScanData(ReadOnlySpan<byte> file, int start)
    {
        long dataBytes = 0;
        var i = start;
        while (i < file.Length)
        {
            if (file[i] != 0xFF || i + 1 == file.Length)
            {
                dataBytes++;
                i++;
                continue;
            }
            var next = file[i + 1];
            if (next == 0x00)
                dataBytes++;
            else if (next is < 0xD0 or > 0xD7)
                return (dataBytes, i);
            i += 2;
        }
        return (dataBytes, file.Length);
    }
}
