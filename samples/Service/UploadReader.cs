namespace EfficientViT.Service;

/// <summary>
/// Reads the image of a <c>POST /predict</c>: the raw body with an <c>image/*</c> or
/// <c>application/octet-stream</c> content type, or the first file of a <c>multipart/form-data</c> form.
/// </summary>
public static class UploadReader
{
    /// <summary>The accepted content types, for messages.</summary>
    public const string Accepted = "an image file as the raw body (Content-Type image/* or application/octet-stream) or as a file field of multipart/form-data";

    /// <summary>The upload's bytes.</summary>
    /// <exception cref="RequestRejectedException">415: another content type; 413: larger than <paramref name="maxBytes"/>; 400: a form without a file, or one that ends early.</exception>
    public static async Task<ReadOnlyMemory<byte>> ReadAsync(HttpRequest request, long maxBytes, CancellationToken cancellation)
    {
        var contentType = request.ContentType ?? "";
        if (request.ContentLength > maxBytes)
            throw TooLarge(request.ContentLength.Value, maxBytes);
        if (request.HasFormContentType)
        {
            if (!contentType.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase))
                throw new RequestRejectedException(StatusCodes.Status415UnsupportedMediaType, $"Content-Type '{contentType}' is not accepted; send {Accepted}.");
            var form = await ReadFormAsync(request, cancellation);
            var file = form.Files.FirstOrDefault()
                ?? throw new RequestRejectedException(StatusCodes.Status400BadRequest, "the multipart form has no file field; send the image as a file (e.g. curl -F file=@photo.jpg).");
            await using var stream = file.OpenReadStream();
            return await ReadAllAsync(stream, maxBytes, file.Length, cancellation);
        }
        var mediaType = contentType.Split(';')[0].Trim();
        if (!(mediaType.StartsWith("image/", StringComparison.OrdinalIgnoreCase) || mediaType.Equals("application/octet-stream", StringComparison.OrdinalIgnoreCase)))
            throw new RequestRejectedException(StatusCodes.Status415UnsupportedMediaType,
                $"Content-Type '{(contentType.Length == 0 ? "(none)" : contentType)}' is not accepted; send {Accepted}.");
        return await ReadAllAsync(request.Body, maxBytes, request.ContentLength, cancellation);
    }

    // A body that ends before the form's closing boundary (a cut upload) is the client's mistake: the form
    // reader reports it as an IOException, which would otherwise answer 500.
    private static async Task<IFormCollection> ReadFormAsync(HttpRequest request, CancellationToken cancellation)
    {
        try
        {
            return await request.ReadFormAsync(cancellation);
        }
        catch (IOException e) when (e is not BadHttpRequestException && !cancellation.IsCancellationRequested)
        {
            // ASP.NET's own message ("Unexpected end of Stream, the content may have already been read by another
            // component.") points the client the wrong way.
            throw new RequestRejectedException(StatusCodes.Status400BadRequest, "the multipart/form-data body ends before its closing boundary: the upload was cut short");
        }
    }

    // The size is checked while reading as well: a chunked body declares no length.
    private static async Task<ReadOnlyMemory<byte>> ReadAllAsync(Stream body, long maxBytes, long? declaredLength, CancellationToken cancellation)
    {
        // Sized for the declared length, so that a large upload is not copied through ever larger buffers.
        using var buffer = new MemoryStream(declaredLength is > 0 and <= int.MaxValue ? (int)Math.Min(declaredLength.Value, maxBytes) : 0);
        var chunk = new byte[81920];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellation)) > 0)
        {
            if (buffer.Length + read > maxBytes)
                throw TooLarge(buffer.Length + read, maxBytes);
            buffer.Write(chunk, 0, read);
        }
        return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
    }

    /// <summary>The answer to a body over the limit, also when Kestrel's own limit finds it.</summary>
    public static RequestRejectedException TooLarge(long? size, long maxBytes) =>
        new(StatusCodes.Status413RequestEntityTooLarge, $"the request body is larger than the {maxBytes / 1024.0 / 1024.0:0.##} MB accepted" + (size is { } bytes ? $" ({bytes:N0} bytes or more)" : ""));
}
