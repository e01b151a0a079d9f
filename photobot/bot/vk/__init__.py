"""VK side of photobot: a community bot on vkbottle 4's API, Bots Long Poll and photo uploader."""
