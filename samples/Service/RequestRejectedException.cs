namespace EfficientViT.Service;

/// <summary>A request the service refuses, with the HTTP status and the message its JSON answer carries.</summary>
public sealed class RequestRejectedException(int statusCode, string message) : Exception(message)
{
    /// <summary>The 4xx status to answer with.</summary>
    public int StatusCode => statusCode;
}
