using EfficientViT.Service;

return await ServiceHost.RunAsync(args);
