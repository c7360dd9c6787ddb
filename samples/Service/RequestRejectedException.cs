namespace EfficientViT.Service;

/// <summary>A request the service refuses, with the HTTP status and the message its JSON answer carries.</summary>
public sealed class RequestRejectedException(int statusCode, string message, int? retryAfterSeconds = null) : Exception(message)
{
    /// <summary>The status to answer with: 4xx, or 503 when the service is busy.</summary>
    public int StatusCode => statusCode;

    /// <summary>The <c>Retry-After</c> header's seconds, for a busy service; null for none.</summary>
    public int? RetryAfterSeconds => retryAfterSeconds;
}
